// The softphone panel in the console's header, for users who take calls: «Начать приём
// звонков» registers the browser with the agent's SIP account (a password issued by the
// server for this console session: POST /api/v1/queue/agent/softphone — the account's own
// password never reaches the page) and logs the agent in to the queues. A queued call rings
// here with the caller's card; answer, hang up, hold, mute, keys, blind transfer («Перевести»:
// to another agent's extension, a queue or a number; REFER, zvonar moves the caller),
// attended transfer («Консультация»: the caller waits on hold while the agent talks to the
// colleague, then «Соединить» joins them; REFER with Replaces), and click-to-call
// (`phone.call(number)` from a ticket or a missed call), whose resident can be transferred
// the same ways, to a colleague or a number (not to a queue).
//
// After a page refresh an agent who was taking calls is registered again at once, with the
// same device id (one binding: see softphone.js), and the queue keeps their state.
//
//   import { startPhone } from './phone.js';
//   const phone = startPhone(headerSlot, { api });   // phone.stop() on logout

import { Softphone } from './softphone.js';
import { cardView } from './card.js';
import { h, toast } from './ui.js';

const STATE_NAMES = {
  logged_out: 'не принимаю звонки', available: 'готов', ringing: 'звонок', on_call: 'разговор',
  wrap_up: 'поствызывная обработка', paused: 'пауза', disconnected: 'нет связи',
};

/**
 * The ring: a 425 Hz tone, 1 s on, 4 s off (ГОСТ ringback cadence), through Web Audio. A
 * browser lets sound start only after a user gesture on the page (autoplay policy); the
 * context is created suspended and resumed on the first click, and until then the panel says
 * that the sound is off and flashes instead.
 */
class Ringer {
  constructor() {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    this.ctx = Ctx ? new Ctx() : null;
    this.timer = null;
    this.osc = null;
  }

  /** Whether the browser lets the ring be heard now. */
  get audible() {
    return !!this.ctx && this.ctx.state === 'running';
  }

  /** Resume after a user gesture; resolves when the sound is allowed. */
  unlock() {
    return this.ctx && this.ctx.state !== 'running' ? this.ctx.resume() : Promise.resolve();
  }

  start() {
    if (this.timer || !this.ctx) return;
    const beep = () => {
      if (this.ctx.state !== 'running') return;
      const osc = this.ctx.createOscillator();
      const gain = this.ctx.createGain();
      osc.frequency.value = 425;
      gain.gain.value = 0.2;
      osc.connect(gain).connect(this.ctx.destination);
      osc.start();
      osc.stop(this.ctx.currentTime + 1);
    };
    beep();
    this.timer = setInterval(beep, 5000);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
  }
}

/** Starts the panel in `slot`; returns `{ stop() }`. */
export function startPhone(slot, { api }) {
  const ringer = new Ringer();
  const status = h('span', { id: 'phone-status', class: 'phone-status' }, 'Телефон…');
  const toggle = h('button', { id: 'phone-toggle', class: 'small', type: 'button' }, '…');
  const soundNote = h('button', {
    id: 'phone-sound', class: 'link warn', type: 'button', hidden: true,
    title: 'Браузер не даёт странице звучать, пока по ней не щёлкнули',
  }, 'Включить звук звонка');
  slot.replaceChildren(h('div', { class: 'phone-bar' }, status, toggle, soundNote));
  const panel = h('section', { id: 'phone-call', class: 'phone-call', hidden: true, 'aria-live': 'assertive' });
  document.body.append(panel);

  let phone = null;
  let agent = null;
  let current = null; // { callId, from }
  let stopped = false;

  const showSound = () => { soundNote.hidden = ringer.audible; };
  const unlock = () => ringer.unlock().then(showSound, showSound);
  document.addEventListener('pointerdown', unlock, true);
  document.addEventListener('keydown', unlock, true);
  soundNote.addEventListener('click', unlock);

  function render() {
    const registered = !!phone && phone.ua.isRegistered();
    const st = agent ? agent.state : 'logged_out';
    const taking = st !== 'logged_out';
    let text = STATE_NAMES[st] || st;
    if (agent && agent.pause_reason) text += ` (${agent.pause_reason})`;
    if (taking && !registered) text += ' · телефон не зарегистрирован';
    status.textContent = `Телефон: ${text}`;
    status.dataset.state = st;
    status.dataset.registered = registered ? 'yes' : 'no';
    toggle.textContent = taking ? 'Закончить приём' : 'Начать приём звонков';
    toggle.onclick = taking ? stopTaking : startTaking;
    showSound();
  }

  async function refreshAgent() {
    try {
      agent = await api('/api/v1/queue/agent');
    } catch (e) {
      agent = null;
    }
    render();
  }

  async function connect() {
    if (phone) return phone;
    const cred = await api('/api/v1/queue/agent/softphone', { method: 'POST' });
    // A page served over https may open only wss:// (and gets the microphone only in a
    // secure context): [sip] wss_listen; over http (loopback, development) ws://.
    const secure = location.protocol === 'https:';
    const port = secure ? cred.wss_port : cred.ws_port;
    if (!port) {
      throw new Error(secure
        ? 'консоль открыта по https, а SIP по защищённому WebSocket не включён ([sip] wss_listen)'
        : 'SIP по WebSocket без шифрования не включён ([sip] ws_listen): откройте консоль по https');
    }
    const p = await Softphone.create({
      wsUrl: `${secure ? 'wss' : 'ws'}://${location.hostname}:${port}`,
      username: cred.username,
      realm: cred.realm,
      password: cred.password,
    });
    p.onIncoming = (call) => ringing(call);
    p.onChange = (what) => changed(what);
    await p.register();
    phone = p;
    return p;
  }

  async function startTaking() {
    unlock();
    toggle.disabled = true;
    try {
      await connect();
      agent = await api('/api/v1/queue/agent/login', { method: 'POST' });
    } catch (e) {
      console.warn(`softphone: ${e.message}`);
      toast(e.message, 'error');
    } finally {
      toggle.disabled = false;
      render();
    }
  }

  async function stopTaking() {
    toggle.disabled = true;
    try {
      agent = await api('/api/v1/queue/agent/logout', { method: 'POST' });
      if (phone && phone.state === 'idle') {
        phone.stop();
        phone = null;
      }
    } catch (e) {
      toast(e.message, 'error');
    } finally {
      toggle.disabled = false;
      render();
    }
  }

  function button(id, text, onclick, cls = '') {
    return h('button', { id, type: 'button', class: cls, onclick }, text);
  }

  function keypad() {
    return h('div', { id: 'phone-keys', class: 'phone-keys', 'aria-label': 'Тоновый набор' },
      ['1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '0', '#'].map((k) =>
        h('button', { type: 'button', dataset: { key: k }, onclick: () => phone.dtmf(k) }, k)));
  }

  function drawCall() {
    if (!phone || phone.state === 'idle' || !current) {
      panel.hidden = true;
      panel.replaceChildren();
      return;
    }
    const talking = phone.state === 'talking';
    const dialling = !talking && current.outgoing;
    panel.hidden = false;
    panel.dataset.state = dialling ? 'dialling' : phone.state;
    const title = talking ? 'Разговор' : (dialling ? 'Вызов' : 'Входящий звонок');
    const controls = dialling
      ? h('div', { class: 'phone-controls' }, button('phone-hangup', 'Отменить', () => phone.hangup(), 'danger'))
      : talking
      ? h('div', { class: 'phone-controls' },
        button('phone-hangup', 'Завершить', () => phone.hangup(), 'danger'),
        button('phone-hold', phone.held ? 'Снять с удержания' : 'Удержание', () => phone.hold(!phone.held)),
        button('phone-mute', phone.muted ? 'Включить микрофон' : 'Выключить микрофон', () => phone.mute(!phone.muted)),
        button('phone-transfer', 'Перевести', () => openTransfer()),
        keypad(),
        transferBox())
      : h('div', { class: 'phone-controls' },
        button('phone-answer', 'Ответить', () => { unlock(); phone.answer(); }, 'primary'),
        button('phone-decline', 'Отклонить', () => phone.hangup()));
    const card = panel.querySelector('#phone-card') || h('div', { id: 'phone-card' }, h('p', { class: 'muted' }, 'Карточка загружается…'));
    panel.replaceChildren(h('h2', {}, title, current.from ? ` · ${current.from}` : ''), controls, card);
  }

  // Blind transfer: a picker of the queues, the agents taking calls (by their extension) and
  // a free number; «Перевести» sends the REFER (softphone.js) and shows how it goes.
  let transferState = null; // null (closed) | { options: [...], status: '' }
  const transferLog = []; // every status shown, in order (support and tests read it)
  const consultLog = []; // the consultations' steps: 'ringing', 'progress' (zvonar's 183), 'talking', 'ended', 'failed'

  /** The status of a transfer for the panel; logged for support and tests. */
  function transferStatus(st) {
    if (!transferState) return;
    transferState.status = { accepted: 'принят, соединяем…', done: 'переведено', failed: 'не удалось' }[st] || st;
    transferLog.push(st);
    // A queued caller goes back to the queue; the resident of a call the operator placed
    // stays with the operator.
    if (st === 'failed') {
      toast(current && current.outgoing ? 'Перевод не удался: абонент снова на линии с вами'
        : 'Перевод не удался: абонент вернётся в очередь', 'error');
    }
    drawCall();
  }

  // Attended transfer in progress: the caller on hold, the colleague ringing or talking.
  function consultBox() {
    const talking = phone.consultState === 'talking';
    const join = button('phone-consult-join', 'Соединить', () => {
      transferState.status = 'отправлен…';
      drawCall();
      phone.completeTransfer(transferStatus);
    }, 'primary');
    join.disabled = !phone.canJoin || !!transferState.status;
    const back = button('phone-consult-cancel', 'Вернуться к абоненту', () => phone.cancelConsult());
    return h('div', { id: 'phone-transfer', class: 'phone-transfer', dataset: { status: transferState.status || '', consult: phone.consultState } },
      h('p', { id: 'phone-consult-status' },
        `Консультация с ${transferState.consulting}: ${talking ? 'на линии' : 'вызов…'} · абонент на удержании`),
      join, back,
      transferState.status ? h('p', { id: 'phone-transfer-status', class: 'muted' }, `Перевод: ${transferState.status}`) : '');
  }

  function transferBox() {
    if (!transferState) return '';
    if (phone.consultation) return consultBox();
    // The panel is drawn anew on every change (the list arriving, hold, mute…): what the
    // operator chose or typed is kept in transferState, not in the elements.
    const select = h('select', {
      id: 'phone-transfer-target', 'aria-label': 'Куда перевести',
      onchange: (e) => { transferState.choice = e.target.value; },
    },
    h('option', { value: '' }, '— номер вручную —'),
    transferState.options.map((o) => h('option', { value: o.value, selected: o.value === transferState.choice }, o.label)));
    const number = h('input', {
      id: 'phone-transfer-number', type: 'text', inputmode: 'tel', autocomplete: 'off',
      placeholder: 'Внутренний или городской номер', 'aria-label': 'Номер',
      value: transferState.number,
      oninput: (e) => { transferState.number = e.target.value; },
    });
    const chosen = () => transferState.choice || transferState.number.trim();
    const go = button('phone-transfer-go', 'Перевести', () => {
      const target = chosen();
      if (!target) { toast('Выберите, куда перевести, или введите номер', 'error'); return; }
      transferState.status = 'отправлен…';
      drawCall();
      phone.transfer(target, transferStatus);
    }, 'primary');
    // Attended: talk to the colleague first (the queue's name makes no sense here).
    const consult = button('phone-consult', 'Консультация', () => {
      const target = chosen();
      if (!target) { toast('Выберите, кому позвонить, или введите номер', 'error'); return; }
      transferState.consulting = target;
      phone.consult(target);
    });
    consult.title = 'Поставить абонента на удержание и сначала поговорить с коллегой';
    const cancel = button('phone-transfer-cancel', 'Отмена', () => { transferState = null; drawCall(); });
    return h('div', {
      id: 'phone-transfer', class: 'phone-transfer',
      dataset: { status: transferState.status || '', loaded: transferState.loaded ? 'yes' : 'no' },
    },
      h('label', {}, 'Куда: ', select), number, go, consult, cancel,
      transferState.status ? h('p', { id: 'phone-transfer-status', class: 'muted' }, `Перевод: ${transferState.status}`) : '');
  }

  async function openTransfer() {
    transferState = { options: [], status: '', choice: '', number: '', loaded: false };
    drawCall();
    try {
      const st = await api('/api/v1/queue');
      const me = agent && agent.login;
      const queues = (st.queues || []).map((q) => ({ value: q.name, label: `Очередь «${q.name}»` }));
      const agents = (st.agents || [])
        .filter((a) => a.login !== me && a.endpoint && a.endpoint.startsWith('sip/') && a.state !== 'logged_out')
        .map((a) => {
          const ext = a.endpoint.split('/')[1];
          return { value: ext, label: `Оператор ${a.login} (${ext}) — ${STATE_NAMES[a.state] || a.state}` };
        });
      // A call the operator placed goes to a person or a number only (zvonar refuses a queue
      // for it: waiting there needs the caller's own leg).
      if (transferState) transferState.options = current && current.outgoing ? agents : [...agents, ...queues];
    } catch (e) {
      toast(`Список для перевода: ${e.message}`, 'error');
    }
    if (transferState) transferState.loaded = true;
    drawCall();
  }

  async function loadCard(callId) {
    if (!callId) return;
    const box = () => panel.querySelector('#phone-card');
    try {
      const [card, queued] = await Promise.all([
        api(`/api/v1/card?call_id=${encodeURIComponent(callId)}`),
        api(`/api/v1/queue/calls/${encodeURIComponent(callId)}`).catch(() => null),
      ]);
      if (!current || current.callId !== callId || !box()) return;
      const ctx = queued && queued.context;
      const robot = ctx && (ctx.heard || []).length
        ? h('div', { class: 'robot-context' }, h('h4', {}, 'Робот услышал'),
          h('ul', {}, ctx.heard.map((x) => h('li', {}, `${x.text || x.value || ''}`,
            x.confidence !== undefined ? h('span', { class: 'muted' }, ` (${Math.round(x.confidence * 100)}%)`) : null))))
        : null;
      box().replaceChildren(cardView(card), robot || '');
    } catch (e) {
      if (box()) box().replaceChildren(h('p', { class: 'error' }, `Карточка: ${e.message}`));
    }
  }

  function ringing(call) {
    current = call;
    drawCall();
    ringer.start();
    showSound();
    loadCard(call.callId);
  }

  function changed(what) {
    if (stopped) return;
    if (what === 'ended' || what === 'failed') transferState = null;
    if (what === 'accepted' || what === 'confirmed' || what === 'ended' || what === 'failed') ringer.stop();
    if (what === 'ended' || what === 'failed') current = null;
    if (what.startsWith('consult-')) consultLog.push(what.slice('consult-'.length));
    // A consultation joined to the caller ends too (a 487 while the colleague still rang):
    // that is the transfer going through, not a refusal.
    if (what === 'consult-failed' && !phone.transferring) toast('Коллега не ответил: абонент снят с удержания', 'error');
    if ((what === 'consult-ended' || what === 'consult-failed') && transferState && !phone.transferring) {
      transferState.consulting = null;
      transferState.status = '';
    }
    if (['accepted', 'confirmed', 'ended', 'failed', 'hold', 'unhold', 'mute', 'outgoing',
      'consult-ringing', 'consult-progress', 'consult-talking', 'consult-ended', 'consult-failed'].includes(what)) drawCall();
    render();
    if (what === 'ended' || what === 'failed' || what === 'confirmed') refreshAgent();
  }

  // The registration goes when the page goes (closed tab or refresh): the queue then offers
  // no call to it; a refreshed page registers again with the same device id.
  const bye = () => { if (phone) phone.stop(); };
  window.addEventListener('pagehide', bye);

  // An agent already taking calls (page refreshed, second login) registers at once.
  (async () => {
    await refreshAgent();
    if (!stopped && agent && agent.state !== 'logged_out') {
      try { await connect(); } catch (e) { toast(e.message, 'error'); }
      render();
    }
  })();
  const poll = setInterval(refreshAgent, 5000);

  /**
   * Click-to-call from a ticket or a missed call: the softphone (registered when the agent
   * takes calls, or now) dials `number`; `onEnd(cause)` as in softphone.js. Returns false
   * (with a message) when the phone cannot call now.
   */
  async function call(number, onEnd = () => {}) {
    unlock();
    if (!number) { toast('Нет номера', 'error'); return false; }
    if (current) { toast('Сначала завершите текущий звонок', 'error'); return false; }
    try {
      const p = await connect();
      current = { callId: null, from: number, outgoing: true };
      p.call(number, onEnd);
      drawCall();
      return true;
    } catch (e) {
      current = null;
      toast(`Звонок не начат: ${e.message}`, 'error');
      return false;
    }
  }

  return {
    /** The panel's softphone (tests read its stats). */
    get phone() { return phone; },
    /** The transfers' statuses so far (blind and attended): 'accepted', 'done', 'failed'. */
    get transferLog() { return transferLog.slice(); },
    /** The consultations' steps so far: 'ringing', 'progress', 'talking', 'ended', 'failed'. */
    get consultLog() { return consultLog.slice(); },
    call,
    stop() {
      stopped = true;
      clearInterval(poll);
      ringer.stop();
      window.removeEventListener('pagehide', bye);
      document.removeEventListener('pointerdown', unlock, true);
      document.removeEventListener('keydown', unlock, true);
      if (phone) phone.stop();
      phone = null;
      panel.remove();
    },
  };
}
