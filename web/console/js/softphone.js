// The console's softphone: a SIP endpoint over WebSocket (RFC 7118) with JsSIP
// (vendor/jssip.min.js, bundled from the npm package by deploy/npm-deps.sh), its media
// WebRTC terminated in zvonar. No framework: one global, `ZvonarPhone`.
//
//   const phone = new ZvonarPhone({ wsUrl: "ws://host:5066", uri: "sip:101@host", password });
//   await phone.register();              // resolves on 200 to REGISTER, rejects on failure
//   const call = await phone.call("100"); // resolves when the call is answered (200/ACK)
//   await phone.inboundAudio();           // { packetsReceived, bytesReceived, audioLevel, ... }
//   phone.hangup();
//
// Incoming calls: `phone.onIncoming = (session) => ...; phone.answer();`.
// Times (ms, performance.now()) are kept in `phone.timing`: inviteSent, answered,
// firstAudio (first inbound RTP packet seen in the stats).
"use strict";

(function () {
  /** The remote audio plays in this element (created once; autoplay after a user gesture). */
  function audioElement() {
    let el = document.getElementById("zvonar-remote-audio");
    if (!el) {
      el = document.createElement("audio");
      el.id = "zvonar-remote-audio";
      el.autoplay = true;
      document.body.appendChild(el);
    }
    return el;
  }

  class ZvonarPhone {
    constructor({ wsUrl, uri, password, displayName }) {
      this.socket = new JsSIP.WebSocketInterface(wsUrl);
      this.ua = new JsSIP.UA({
        sockets: [this.socket],
        uri,
        password,
        display_name: displayName || undefined,
        register: false,
        session_timers: false,
        // One registration per tab: JsSIP's instance id keeps a page refresh from leaving
        // a second binding (RFC 5626 +sip.instance, one binding per instance at zvonar).
        instance_id: ZvonarPhone.instanceId(),
      });
      this.session = null;
      this.timing = {};
      this.onIncoming = null;
      this.ua.on("newRTCSession", (e) => {
        if (e.originator === "remote") {
          this.track(e.session);
          if (this.onIncoming) this.onIncoming(e.session);
        }
      });
      this.ua.start();
    }

    /** A stable id for this browser (localStorage), as a UUID. */
    static instanceId() {
      const key = "zvonar.sip.instance";
      let id = null;
      try { id = localStorage.getItem(key); } catch (_) { /* private mode */ }
      if (!id) {
        id = crypto.randomUUID();
        try { localStorage.setItem(key, id); } catch (_) { /* private mode */ }
      }
      return id;
    }

    /** Registers; resolves with the 200's Contact count, rejects with the failure cause. */
    register() {
      return new Promise((resolve, reject) => {
        const ok = (e) => { off(); resolve(e.response ? e.response.status_code : 200); };
        const bad = (e) => { off(); reject(new Error("registration failed: " + e.cause)); };
        const off = () => { this.ua.removeListener("registered", ok); this.ua.removeListener("registrationFailed", bad); };
        this.ua.on("registered", ok);
        this.ua.on("registrationFailed", bad);
        this.ua.register();
      });
    }

    track(session) {
      this.session = session;
      session.on("sending", () => { this.timing.inviteSent = performance.now(); });
      session.on("confirmed", () => { this.timing.answered = performance.now(); });
      session.on("ended", () => { this.timing.ended = performance.now(); });
      session.on("failed", (e) => { this.timing.failed = e.cause; });
      session.on("peerconnection", (e) => {
        e.peerconnection.addEventListener("track", (t) => {
          audioElement().srcObject = t.streams[0] || new MediaStream([t.track]);
        });
      });
    }

    /** Calls `target` (a number or a SIP URI); resolves when answered, rejects on failure. */
    call(target) {
      return new Promise((resolve, reject) => {
        const session = this.ua.call(target, {
          mediaConstraints: { audio: true, video: false },
          // No STUN/TURN: zvonar is ICE-lite on its public address; host candidates are
          // gathered at once, so the INVITE is not held up by gathering.
          pcConfig: { iceServers: [] },
          eventHandlers: {
            confirmed: () => resolve(session),
            failed: (e) => reject(new Error("call failed: " + e.cause)),
          },
        });
        this.track(session);
        if (this.timing.inviteSent === undefined) this.timing.inviteSent = performance.now();
      });
    }

    /** Answers the ringing incoming call. */
    answer() {
      if (!this.session) throw new Error("no call");
      this.session.answer({
        mediaConstraints: { audio: true, video: false },
        pcConfig: { iceServers: [] },
      });
    }

    /** Hangs up the current call. */
    hangup() {
      if (this.session && !this.session.isEnded()) this.session.terminate();
    }

    /** The inbound audio RTP stats of the current call (RTCInboundRtpStreamStats), or null. */
    async inboundAudio() {
      const pc = this.session && this.session.connection;
      if (!pc) return null;
      const stats = await pc.getStats();
      let out = null;
      stats.forEach((s) => {
        if (s.type === "inbound-rtp" && (s.kind === "audio" || s.mediaType === "audio")) {
          out = {
            packetsReceived: s.packetsReceived || 0,
            bytesReceived: s.bytesReceived || 0,
            audioLevel: s.audioLevel || 0,
            totalAudioEnergy: s.totalAudioEnergy || 0,
            codec: null,
            codecId: s.codecId,
          };
        }
      });
      if (out && out.codecId) {
        const c = stats.get(out.codecId);
        if (c) out.codec = c.mimeType;
      }
      if (out && out.packetsReceived > 0 && this.timing.firstAudio === undefined) {
        this.timing.firstAudio = performance.now();
      }
      return out;
    }

    /** The outbound audio RTP stats of the current call, or null. */
    async outboundAudio() {
      const pc = this.session && this.session.connection;
      if (!pc) return null;
      const stats = await pc.getStats();
      let out = null;
      stats.forEach((s) => {
        if (s.type === "outbound-rtp" && (s.kind === "audio" || s.mediaType === "audio")) {
          out = { packetsSent: s.packetsSent || 0, bytesSent: s.bytesSent || 0 };
        }
      });
      return out;
    }

    /** Unregisters and closes the WebSocket. */
    stop() {
      this.ua.stop();
    }
  }

  window.ZvonarPhone = ZvonarPhone;
})();
