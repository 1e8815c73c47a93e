//! Steps of the call: identification, outages, tickets, giving up, callbacks, the end.

use super::Handover;
use super::{DispatcherRobot, Outcome, RobotOutput, State, OUTAGE_TOPIC};
use crate::classify::classify;
use crate::config::Prompt;
use zvonar_models::{
    CallEventKind, CallbackRequest, HandoverContext, HandoverReason, TicketRequest,
};

impl DispatcherRobot {
    pub(super) fn address_confirmed(&mut self) {
        if let Some(k) = self.ctx.known.clone() {
            self.building = Some(k.building_id);
            self.premises = Some(k.premises_id);
            self.account = k.account_id;
            self.apartment = k.apartment.clone();
            self.event(CallEventKind::Identified {
                account_id: k.account_id,
                premises_id: Some(k.premises_id),
                how: "caller_id".to_string(),
            });
        }
        self.after_identified();
    }

    pub(super) fn lookup(&mut self, apartment: String, how: &'static str) {
        let Some(building_id) = self.building else {
            return self.after_identified();
        };
        self.apartment = Some(apartment.clone());
        self.how = how;
        self.state = State::AwaitingPremisesLookup;
        self.out.push_back(RobotOutput::LookupPremises {
            building_id,
            apartment,
        });
    }

    pub(super) fn after_identified(&mut self) {
        if self.outages().is_empty() {
            self.enter(State::AwaitingProblem);
        } else {
            self.enter(State::AwaitingOutageAnswer { index: 0 });
        }
    }

    pub(super) fn next_outage(&mut self, index: usize) {
        if index + 1 < self.outages().len() {
            self.enter(State::AwaitingOutageAnswer { index: index + 1 });
        } else {
            self.enter(State::AwaitingProblem);
        }
    }

    pub(super) fn request(
        &self,
        topic: String,
        emergency: bool,
        description: String,
    ) -> TicketRequest {
        TicketRequest {
            caller: self.ctx.caller.clone(),
            account_id: self.account,
            building_id: self.building,
            premises_id: self.premises,
            apartment: self.apartment.clone(),
            topic,
            emergency,
            description,
            outage_id: None,
            unfinished: false,
        }
    }

    pub(super) fn ticket(&mut self, topic: String, emergency: bool, description: String) {
        self.problem = None;
        self.ticket_emergency = emergency;
        let req = self.request(topic, emergency, description);
        self.filed = Some(req.clone());
        self.out.push_back(RobotOutput::CreateTicket(req));
        self.state = State::AwaitingTicket;
    }

    pub(super) fn outage_ticket(&mut self, index: usize, heard: &str) {
        let Some(o) = self.outages().get(index).cloned() else {
            return self.enter(State::AwaitingProblem);
        };
        let desc = format!("Звонок по поводу отключения {}: {}", o.what, heard);
        let mut req = self.request(OUTAGE_TOPIC.to_string(), false, desc);
        req.outage_id = Some(o.id);
        self.problem = None;
        self.ticket_outage = Some(index);
        self.out.push_back(RobotOutput::CreateTicket(req));
        self.state = State::AwaitingTicket;
    }

    pub(super) fn unfinished_ticket(&mut self, description: String) {
        let c = classify(&description, &self.s.topics, &self.s.fallback_topic);
        let mut req = self.request(c.topic, c.emergency, description);
        req.unfinished = true;
        self.out.push_back(RobotOutput::CreateTicket(req));
    }

    /// Keeps a problem description heard out of turn («нет, у меня течёт кран») so that it
    /// is filed as unfinished if the call breaks off.
    pub(super) fn remember_problem(&mut self, text: &str) {
        let c = classify(text, &self.s.topics, &self.s.fallback_topic);
        if c.topic != self.s.fallback_topic && self.problem.is_none() {
            self.problem = Some(text.to_string());
        }
    }

    pub(super) fn not_understood_heard(&mut self, text: &str) {
        self.remember_problem(text);
        self.not_understood();
    }

    /// Not understood: re-ask `max_retries` times, then offer the keypad menu once, then
    /// give up on this question.
    pub(super) fn not_understood(&mut self) {
        self.not_understood += 1;
        let n = self.not_understood;
        let retries = self.s.max_retries;
        if n <= retries || (n == retries + 1 && self.has_menu()) {
            self.menu = n > retries || (self.keypad_only && self.has_menu());
            let p = self.s.prompts.not_understood.clone();
            self.prompt(&p, true);
            self.ask();
            return;
        }
        match self.state {
            // Unconfirmed address or no building: go on without an address.
            State::AwaitingAddressConfirmation | State::AwaitingBuilding => {
                self.building = None;
                let text = "Не удалось определить адрес, диспетчер уточнит его.";
                self.say(text.to_string(), false);
                self.enter(State::AwaitingProblem);
            }
            // No apartment: go on with the building alone.
            State::AwaitingApartment => self.after_identified(),
            // The read-back not answered: as a «нет» (ask again, then keys, then go on).
            State::AwaitingApartmentConfirmation => self.denied(),
            State::AwaitingOutageAnswer { index } => self.next_outage(index),
            _ if self.can_hand_over() => self.hand_over(HandoverReason::NotUnderstood),
            _ => {
                let p = self.s.prompts.failed_goodbye.clone();
                self.end_incomplete(p, Outcome::NotUnderstood);
            }
        }
    }

    /// Ends a call that did not get to a ticket: an unfinished ticket when an address or a
    /// problem was collected (outcome `unfinished`), else `otherwise`.
    pub(super) fn end_incomplete(&mut self, goodbye: Prompt, otherwise: Outcome) {
        let outcome = if self.building.is_some() || self.problem.is_some() {
            let desc = self.problem.take().unwrap_or_default();
            self.unfinished_ticket(desc);
            Outcome::Unfinished
        } else {
            otherwise
        };
        self.prompt(&goodbye, false);
        self.close(outcome);
    }

    /// The caller asked for a person: the operator queue when the dialplan has one (and it
    /// was not tried on this call yet), else a callback request.
    pub(super) fn operator(&mut self) {
        if self.can_hand_over() {
            return self.hand_over(HandoverReason::Asked);
        }
        self.callback();
    }

    fn can_hand_over(&self) -> bool {
        self.s.operator_flow.is_some() && !self.handed_over
    }

    /// Passes the call to the operator queue with what the robot knows.
    pub(super) fn hand_over(&mut self, reason: HandoverReason) {
        let Some(flow) = self.s.operator_flow.clone() else {
            return self.callback();
        };
        self.handed_over = true;
        self.clear_keys();
        let p = self.s.prompts.to_operator.clone();
        self.prompt(&p, false);
        // The draft: the request filed, what the caller described (classified), or the
        // address alone.
        let draft = match (&self.problem, self.building) {
            _ if self.filed.is_some() => self.filed.clone(),
            (Some(p), _) => {
                let c = classify(p, &self.s.topics, &self.s.fallback_topic);
                Some(self.request(c.topic, c.emergency, p.clone()))
            }
            (None, Some(_)) => {
                Some(self.request(self.s.fallback_topic.clone(), false, String::new()))
            }
            (None, None) => None,
        };
        let emergency = self.ticket_emergency || draft.as_ref().is_some_and(|d| d.emergency);
        let topic = draft.as_ref().map(|d| d.topic.clone());
        let address = self.address_text();
        let context = HandoverContext {
            caller: self.ctx.caller.clone(),
            account_id: self.account,
            building_id: self.building,
            premises_id: self.premises,
            address,
            apartment: self.apartment.clone(),
            heard: self.heard_conf.clone(),
            draft,
            ticket_number: self.ticket_number.clone(),
            recording: None,
        };
        self.event(CallEventKind::HandedOver {
            flow: flow.clone(),
            reason: reason.as_str().to_string(),
        });
        self.out.push_back(RobotOutput::HandOver(Box::new(Handover {
            flow,
            reason,
            emergency,
            topic,
            context,
        })));
        self.state = State::AwaitingOperator;
    }

    /// The address as the robot knows it: the caller's registered premises once confirmed,
    /// else the building named (and the apartment heard).
    fn address_text(&self) -> Option<String> {
        if let Some(k) = &self.ctx.known {
            if self.premises == Some(k.premises_id) {
                return Some(k.address_spoken.clone());
            }
        }
        let b = self
            .ctx
            .buildings
            .iter()
            .find(|b| Some(b.id) == self.building)?;
        Some(match &self.apartment {
            Some(a) => format!("{}, квартира {a}", b.spoken),
            None => b.spoken.clone(),
        })
    }

    /// Nobody can take the call: a callback request with what was heard.
    pub(super) fn callback(&mut self) {
        let p = self.s.prompts.no_operators.clone();
        self.prompt(&p, false);
        self.out
            .push_back(RobotOutput::RequestCallback(CallbackRequest {
                caller: self.ctx.caller.clone(),
                account_id: self.account,
                heard: self.heard.join(" / "),
            }));
        self.problem = None;
        self.state = State::AwaitingCallbackRecorded;
    }

    pub(super) fn close(&mut self, outcome: Outcome) {
        self.outcome = Some(outcome);
        self.state = State::Closing;
        if self.playing.is_empty() {
            self.finish();
        }
    }

    pub(super) fn finish(&mut self) {
        let outcome = self.outcome.unwrap_or(Outcome::CallerHangup);
        self.event(CallEventKind::Outcome {
            outcome: outcome.as_str().to_string(),
        });
        self.out.push_back(RobotOutput::Hangup);
        self.state = State::Finished;
    }
}
