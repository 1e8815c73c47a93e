// The console's SIP endpoint: JsSIP (npm, bundled into vendor/jssip.min.js by
// `npm run build:console`) registering over WebSocket (RFC 7118) with the agent's SIP account,
// its media WebRTC terminated in zvonar (ICE-lite, DTLS-SRTP, G.711). No UI here: phone.js
// draws the panel.
//
//   const phone = await Softphone.create({ wsUrl, username, realm, password });
//   phone.onIncoming = (call) => { … call.callId … };   // the queue rings this agent
//   await phone.register();
//   phone.answer(); phone.mute(true); phone.dtmf('5'); phone.hangup();
//   phone.transfer('102', (status) => …);   // blind transfer (REFER): extension, queue, number
//   phone.consult('102'); phone.completeTransfer((status) => …);  // attended transfer
//   phone.call('+79161234567', (cause) => …);  // click-to-call
//   await phone.inboundAudio();   // { packetsReceived, bytesReceived, audioLevel, codec }

let loading = null;

/** Loads JsSIP once (a classic script: the npm package is CommonJS, bundled as a global). */
function loadJsSIP() {
  if (window.JsSIP) return Promise.resolve(window.JsSIP);
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      const s = document.createElement('script');
      s.src = new URL('../vendor/jssip.min.js', import.meta.url).href;
      s.onload = () => resolve(window.JsSIP);
      s.onerror = () => { loading = null; reject(new Error('нет vendor/jssip.min.js (deploy/install-npm.sh)')); };
      document.head.append(s);
    });
  }
  return loading;
}

/** A stable id of this browser (localStorage), so a page refresh re-registers the same
 *  device: the registrar keeps one binding per `+sip.instance` (RFC 5626 §4.1). */
function instanceId() {
  const key = 'zvonar.sip.instance';
  let id = null;
  try { id = localStorage.getItem(key); } catch (_) { /* private mode */ }
  if (!id) {
    id = crypto.randomUUID ? crypto.randomUUID()
      : '10000000-1000-4000-8000-100000000000'.replace(/[018]/g, (c) =>
        (c ^ (crypto.getRandomValues(new Uint8Array(1))[0] & (15 >> (c / 4)))).toString(16));
    try { localStorage.setItem(key, id); } catch (_) { /* private mode */ }
  }
  return id;
}

/** The element the remote audio plays in (created once). */
function audioElement() {
  let el = document.getElementById('phone-remote-audio');
  if (!el) {
    el = document.createElement('audio');
    el.id = 'phone-remote-audio';
    el.autoplay = true;
    document.body.append(el);
  }
  return el;
}

// No STUN/TURN: zvonar is ICE-lite on its public address, host candidates are gathered at
// once, so neither the INVITE nor the 200 waits for gathering.
const RTC = { mediaConstraints: { audio: true, video: false }, pcConfig: { iceServers: [] } };

export class Softphone {
  /** Loads JsSIP and starts the user agent (not yet registered). */
  static async create(opts) {
    const JsSIP = await loadJsSIP();
    return new Softphone(JsSIP, opts);
  }

  constructor(JsSIP, { wsUrl, username, realm, password }) {
    const instance = instanceId();
    // The same Contact after a page refresh (derived from the device id, not random): the
    // registration is refreshed in place and the queue keeps ringing the same endpoint.
    const tag = instance.replace(/-/g, '').slice(0, 12);
    this.ua = new JsSIP.UA({
      contact_uri: `sip:${username}-${tag}@${tag}.invalid;transport=ws`,
      sockets: [new JsSIP.WebSocketInterface(wsUrl)],
      uri: `sip:${username}@${realm}`,
      authorization_user: username,
      realm,
      password,
      register: false,
      register_expires: 300,
      session_timers: false,
      instance_id: instance,
      user_agent: 'zvonar-console',
    });
    this.realm = realm;
    this.session = null;
    this.onIncoming = null;
    this.onChange = null;
    this.muted = false;
    this.held = false;
    this.ua.on('newRTCSession', (e) => {
      if (e.originator !== 'remote') return;
      if (this.session && !this.session.isEnded()) {
        // One call at a time: the queue never offers a second one to a busy agent.
        e.session.terminate({ status_code: 486 });
        return;
      }
      this.track(e.session);
      const callId = e.request.getHeader('X-Zvonar-Call') || null;
      const from = e.request.from && e.request.from.uri ? e.request.from.uri.user : '';
      if (this.onIncoming) this.onIncoming({ callId, from });
    });
    this.ua.on('connected', () => this.changed('connected'));
    this.ua.on('disconnected', (e) => this.changed('disconnected', e && e.code));
    this.ua.on('registrationFailed', (e) => this.changed('registrationFailed', e && e.cause));
    this.ua.on('registered', () => this.changed('registered'));
    this.ua.on('unregistered', () => this.changed('unregistered'));
    this.ua.start();
  }

  changed(what, detail) {
    // One line per event in the browser console, for support.
    console.info(`softphone: ${what}${detail !== undefined ? ` (${detail})` : ''}`);
    if (this.onChange) this.onChange(what);
  }

  /** Registers once the WebSocket is up; resolves on the 200, rejects with the cause. */
  async register() {
    if (!this.ua.isConnected()) {
      await new Promise((resolve) => this.ua.once('connected', resolve));
    }
    return new Promise((resolve, reject) => {
      const off = () => {
        this.ua.removeListener('registered', ok);
        this.ua.removeListener('registrationFailed', bad);
      };
      const ok = () => { off(); resolve(); };
      const bad = (e) => { off(); reject(new Error(`регистрация не удалась: ${e.cause}`)); };
      this.ua.on('registered', ok);
      this.ua.on('registrationFailed', bad);
      this.ua.register();
    });
  }

  track(session) {
    this.session = session;
    this.outgoing = false;
    this.muted = false;
    this.held = false;
    this.consultation = null;
    this.consultState = null;
    this.transferring = false;
    session.on('peerconnection', (e) => this.attach(e.peerconnection));
    if (session.connection) this.attach(session.connection);
    session.on('accepted', () => this.changed('accepted'));
    session.on('confirmed', () => this.changed('confirmed'));
    session.on('ended', () => this.changed('ended'));
    session.on('failed', () => this.changed('failed'));
    session.on('hold', () => { this.held = true; this.changed('hold'); });
    session.on('unhold', () => { this.held = false; this.changed('unhold'); });
  }

  attach(pc) {
    pc.addEventListener('track', (t) => {
      audioElement().srcObject = t.streams[0] || new MediaStream([t.track]);
    });
  }

  /** Whether a call is ringing, talking, or none. */
  get state() {
    const s = this.session;
    if (!s || s.isEnded()) return 'idle';
    return s.isEstablished() ? 'talking' : 'ringing';
  }

  /**
   * Places a call (click-to-call): an INVITE over this WebSocket to zvonar, which knows the
   * agent by the connection it registered on and dials `target` (an outside number through
   * the trunks with the company's caller ID, or an extension), recorded like any call.
   * `onEnd(cause)` hears how it ended: null after a conversation, else JsSIP's cause
   * ('Busy', 'Unavailable', 'Rejected'…).
   */
  call(target, onEnd = () => {}) {
    if (this.session && !this.session.isEnded()) throw new Error('уже идёт звонок');
    const user = encodeURIComponent(String(target).trim()).replace(/%2B/g, '+');
    const session = this.ua.call(`sip:${user}@${this.realm}`, RTC);
    this.track(session);
    this.outgoing = true;
    session.on('ended', () => onEnd(null));
    session.on('failed', (e) => onEnd((e && e.cause) || 'failed'));
    this.changed('outgoing');
    return session;
  }

  /** Answers the ringing call. */
  answer() {
    if (this.state !== 'ringing') return;
    this.session.answer(RTC);
  }

  /** Declines the ringing call (486: the queue offers it to someone else) or ends the call. */
  hangup() {
    if (this.state === 'idle') return;
    this.session.terminate(this.state === 'ringing' ? { status_code: 486 } : undefined);
  }

  /** Microphone off (`true`) or on: the caller hears silence, the call stays up. */
  mute(on) {
    if (this.state !== 'talking') return;
    if (on) this.session.mute({ audio: true }); else this.session.unmute({ audio: true });
    this.muted = on;
    this.changed('mute');
  }

  /** Hold (`true`) or resume: a re-INVITE (RFC 3264 §8.4, `sendonly`), the audio stops both ways. */
  hold(on) {
    if (this.state !== 'talking') return;
    if (on) this.session.hold(); else this.session.unhold();
  }

  /**
   * Blind transfer of the caller (RFC 3515 REFER on this call's dialog): `target` is an
   * extension (SIP account), a queue name, a flow name (the robot) or a phone number; zvonar
   * answers the REFER itself and moves the caller. `onStatus(status)` hears the outcome:
   * 'accepted' (202), 'done' (NOTIFY 200: the target took the call; zvonar then ends this
   * call), 'failed' (the REFER was refused or the target did not answer: a queued caller goes
   * back to the queue; the party of a call the agent placed stays on this call, and a queue or
   * flow is refused for it).
   */
  transfer(target, onStatus = () => {}) {
    if (this.state !== 'talking') return;
    const user = encodeURIComponent(String(target).trim()).replace(/%2B/g, '+');
    this.session.refer(`sip:${user}@${this.realm}`, {
      eventHandlers: {
        requestSucceeded: () => onStatus('accepted'),
        requestFailed: () => onStatus('failed'),
        accepted: () => onStatus('done'),
        failed: () => onStatus('failed'),
      },
    });
  }

  /**
   * Attended transfer, step 1 (RFC 5589 §7): puts the caller on hold and calls `target` (an
   * extension or a number, as `call` does) on a second session, the consultation; the agent
   * hears the colleague. `consultState` is 'ringing', then 'talking'; when the consultation
   * ends without a transfer (the colleague did not answer or hung up, or `cancelConsult`),
   * the caller is taken off hold.
   */
  consult(target) {
    if (this.state !== 'talking' || this.consultation) return;
    const user = encodeURIComponent(String(target).trim()).replace(/%2B/g, '+');
    this.consultTarget = `sip:${user}@${this.realm}`;
    if (!this.held) this.session.hold();
    const c = this.ua.call(this.consultTarget, RTC);
    this.consultation = c;
    this.consultState = 'ringing';
    this.consultToTag = null;
    c.on('peerconnection', (e) => this.attach(e.peerconnection));
    // zvonar answers the consultation only when the colleague answers; meanwhile its 183
    // (ringback as early media) carries the dialog's to-tag, which «Соединить» needs.
    c.on('progress', (e) => {
      if (e.originator !== 'remote' || !e.response || !e.response.to_tag || this.consultToTag) return;
      this.consultToTag = e.response.to_tag;
      this.changed('consult-progress');
    });
    c.on('confirmed', () => { this.consultState = 'talking'; this.changed('consult-talking'); });
    const over = (why) => {
      if (this.consultation !== c) return;
      this.consultation = null;
      this.consultState = null;
      this.listenTo(this.session);
      if (!this.transferring && this.session && !this.session.isEnded() && this.held) this.session.unhold();
      this.changed(why);
    };
    c.on('ended', () => over('consult-ended'));
    c.on('failed', () => over('consult-failed'));
    this.changed('consult-ringing');
  }

  /**
   * Attended transfer, step 2: joins the caller and the consulted colleague. A REFER on the
   * caller's call names the consultation's dialog (`Replaces`, RFC 3891); zvonar hands the
   * colleague over to the caller's call and ends both of the agent's calls. `onStatus` as in
   * `transfer`.
   */
  completeTransfer(onStatus = () => {}) {
    if (this.state !== 'talking' || !this.canJoin) return;
    this.transferring = true;
    const failed = () => { this.transferring = false; onStatus('failed'); };
    const c = this.consultation;
    // While the colleague still rings, the consultation is an early dialog, which JsSIP's
    // `replaces` does not name (it knows the to-tag only once confirmed): the same three ids
    // (RFC 3891 §3) are given with the 183's to-tag, read as JsSIP's ReferSubscriber reads them.
    const replaces = this.consultState === 'talking' ? c
      : { _request: { call_id: c._request.call_id }, _from_tag: c._from_tag, _to_tag: this.consultToTag };
    this.session.refer(this.consultTarget, {
      replaces,
      eventHandlers: {
        requestSucceeded: () => onStatus('accepted'),
        requestFailed: failed,
        accepted: () => onStatus('done'),
        failed,
      },
    });
  }

  /** Whether «Соединить» can be sent: the colleague talks, or rings with zvonar's 183 in. */
  get canJoin() {
    return !!this.consultation && (this.consultState === 'talking' || !!this.consultToTag);
  }

  /** Ends the consultation; the caller comes off hold. */
  cancelConsult() {
    if (this.consultation) this.consultation.terminate();
  }

  /** Plays `session`'s remote audio (after a consultation, the caller's again). */
  listenTo(session) {
    const pc = session && session.connection;
    if (!pc) return;
    const tracks = pc.getReceivers().map((r) => r.track).filter((t) => t && t.kind === 'audio');
    if (tracks.length) audioElement().srcObject = new MediaStream(tracks);
  }

  /** Sends a key (0–9 * #) to the caller: SIP INFO (application/dtmf-relay). */
  dtmf(key) {
    if (this.state !== 'talking') return;
    this.session.sendDTMF(key, { transportType: 'INFO', duration: 160 });
  }

  /** The inbound audio stats of the call (RTCInboundRtpStreamStats), or null;
   *  `consultation`: of the consultation instead. */
  async inboundAudio(consultation = false) {
    const s = consultation ? this.consultation : this.session;
    const pc = s && s.connection;
    if (!pc) return null;
    const stats = await pc.getStats();
    let out = null;
    stats.forEach((s) => {
      if (s.type === 'inbound-rtp' && (s.kind === 'audio' || s.mediaType === 'audio')) {
        out = {
          packetsReceived: s.packetsReceived || 0,
          bytesReceived: s.bytesReceived || 0,
          audioLevel: s.audioLevel || 0,
          totalAudioEnergy: s.totalAudioEnergy || 0,
          codecId: s.codecId,
        };
      }
    });
    if (out && out.codecId) {
      const c = stats.get(out.codecId);
      out.codec = c ? c.mimeType : null;
    }
    return out;
  }

  /** The outbound audio stats of the call, or null. */
  async outboundAudio() {
    const pc = this.session && this.session.connection;
    if (!pc) return null;
    const stats = await pc.getStats();
    let out = null;
    stats.forEach((s) => {
      if (s.type === 'outbound-rtp' && (s.kind === 'audio' || s.mediaType === 'audio')) {
        out = { packetsSent: s.packetsSent || 0, bytesSent: s.bytesSent || 0 };
      }
    });
    return out;
  }

  /** Unregisters (the registrar drops the binding at once) and closes the WebSocket. */
  stop() {
    try { this.ua.stop(); } catch (_) { /* already stopped */ }
  }
}
