use super::*;

const REALM: &str = "zvonar.test";

fn registrar() -> Registrar {
    Registrar::with_key(
        RegistrarConfig {
            realm: REALM.into(),
            nonce_lifetime_s: 60,
            lockout_after: 3,
            lockout_s: 600,
            expiry: ExpiryLimits::default(),
            algorithms: vec![Algorithm::Sha256, Algorithm::Md5],
        },
        NonceKey::from_bytes([1; 32]),
    )
}

fn source() -> SocketAddr {
    "192.0.2.7:5062".parse().expect("addr")
}

fn register(user: &str, cseq: u32, contact: &str) -> Register {
    Register {
        aor_user: user.into(),
        authorization: Vec::new(),
        contacts: if contact.is_empty() {
            Vec::new()
        } else {
            vec![contact.into()]
        },
        expires: None,
        call_id: "call-1".into(),
        cseq,
        source: source(),
        client_ip: source().ip(),
        transport: "udp",
    }
}

/// The nonce of the first challenge in a 401.
fn nonce_of(r: &Reply) -> String {
    assert_eq!(r.status, 401, "{r:?}");
    let v = &r.headers[0].1;
    let start = v.find("nonce=\"").expect("nonce") + 7;
    v[start..start + 64].to_string()
}

/// What a phone sends: the Authorization for `password` with this nonce and nc.
fn authorization(alg: Algorithm, user: &str, password: &str, nonce: &str, nc: u32) -> String {
    authorization_for("REGISTER", alg, user, password, nonce, nc)
}

/// [`authorization`] for request `method`.
fn authorization_for(
    method: &str,
    alg: Algorithm,
    user: &str,
    password: &str,
    nonce: &str,
    nc: u32,
) -> String {
    let mut c = Credentials {
        username: user.into(),
        realm: REALM.into(),
        nonce: nonce.into(),
        uri: format!("sip:{REALM}"),
        cnonce: "0a4f113b".into(),
        qop: "auth".into(),
        nc: format!("{nc:08x}"),
        ..Credentials::default()
    };
    let h = digest::ha1(alg, user, REALM, password);
    c.response = digest::response(alg, &h, method, &c);
    format!(
        "Digest username=\"{user}\", realm=\"{REALM}\", nonce=\"{nonce}\", uri=\"{}\", \
         response=\"{}\", algorithm={}, cnonce=\"{}\", qop=auth, nc={}",
        c.uri,
        c.response,
        alg.token(),
        c.cnonce,
        c.nc
    )
}

/// Runs both steps with the store holding `password` for user 101 (MD5 and SHA-256).
fn run(r: &mut Registrar, req: &Register, now: u64) -> Reply {
    match r.authorize(req, now) {
        Err(reply) => reply,
        Ok(p) => {
            let ha1 =
                (p.username() == "101").then(|| digest::ha1(p.algorithm, "101", REALM, "s3cret"));
            r.complete(req, p, ha1.as_deref(), now)
        }
    }
}

#[test]
fn challenge_offers_sha256_then_md5() {
    let mut r = registrar();
    let reply = run(
        &mut r,
        &register("101", 1, "<sip:101@192.0.2.7:5062>"),
        1_000,
    );
    assert_eq!(reply.status, 401);
    assert_eq!(reply.headers.len(), 2);
    assert!(reply.headers.iter().all(|(n, _)| n == "WWW-Authenticate"));
    assert!(reply.headers[0].1.contains("algorithm=SHA-256"));
    assert!(reply.headers[1].1.contains("algorithm=MD5"));
    assert!(reply.headers[0].1.contains("realm=\"zvonar.test\""));
    assert!(reply.headers[0].1.contains("qop=\"auth\""));
    assert!(r.bindings("101", 1_000).is_empty());
}

#[test]
fn both_algorithms_register_and_list_contacts() {
    for alg in [Algorithm::Md5, Algorithm::Sha256] {
        let mut r = registrar();
        let mut req = register("101", 1, "<sip:101@192.0.2.7:5062>;expires=120");
        let nonce = nonce_of(&run(&mut r, &req, 1_000));
        req.cseq = 2;
        req.authorization = vec![authorization(alg, "101", "s3cret", &nonce, 1)];
        let ok = run(&mut r, &req, 1_001);
        assert_eq!(ok.status, 200, "{alg:?}");
        assert_eq!(
            ok.headers,
            vec![(
                "Contact".to_string(),
                "<sip:101@192.0.2.7:5062>;expires=120".to_string()
            )]
        );
        let b = r.bindings("101", 1_001);
        assert_eq!(
            (b.len(), b[0].source, b[0].transport),
            (1, Some(source()), "udp")
        );
        // The nonce is reused with the next nc (no new challenge round trip).
        req.cseq = 3;
        req.contacts = vec!["<sip:101@192.0.2.7:5062>;expires=0".into()];
        req.authorization = vec![authorization(alg, "101", "s3cret", &nonce, 2)];
        let gone = run(&mut r, &req, 1_002);
        assert_eq!((gone.status, gone.headers.len()), (200, 0));
        assert!(r.bindings("101", 1_002).is_empty());
    }
}

#[test]
fn expired_nonce_is_stale_not_a_failure() {
    let mut r = registrar();
    let mut req = register("101", 1, "<sip:101@h>");
    let nonce = nonce_of(&run(&mut r, &req, 1_000));
    req.authorization = vec![authorization(Algorithm::Md5, "101", "s3cret", &nonce, 1)];
    for now in [1_061, 1_062, 1_063, 1_064] {
        let reply = run(&mut r, &req, now);
        assert_eq!(reply.status, 401);
        assert!(reply.headers[0].1.ends_with("stale=true"), "{reply:?}");
        assert_ne!(nonce_of(&reply), nonce);
    }
    // Not counted as failures: within the lifetime the same request is accepted.
    let mut r2 = registrar();
    let ok = run(&mut r2, &req, 1_060);
    assert_eq!(ok.status, 200);
    // A wrong password with an old nonce is a failure, never "stale".
    let mut bad = req.clone();
    bad.authorization = vec![authorization(Algorithm::Md5, "101", "guess", &nonce, 1)];
    assert!(!run(&mut r, &bad, 1_100).headers[0].1.contains("stale"));
}

#[test]
fn replayed_nonce_count_is_refused() {
    let mut r = registrar();
    let mut req = register("101", 1, "<sip:101@h>");
    let nonce = nonce_of(&run(&mut r, &req, 1_000));
    req.authorization = vec![authorization(Algorithm::Sha256, "101", "s3cret", &nonce, 1)];
    assert_eq!(run(&mut r, &req, 1_001).status, 200);
    // The same message again (a captured packet).
    let replay = run(&mut r, &req, 1_002);
    assert_eq!(replay.status, 401);
    req.authorization = vec![authorization(Algorithm::Sha256, "101", "s3cret", &nonce, 5)];
    req.cseq = 2;
    assert_eq!(run(&mut r, &req, 1_003).status, 200);
    req.authorization = vec![authorization(Algorithm::Sha256, "101", "s3cret", &nonce, 4)];
    req.cseq = 3;
    assert_eq!(run(&mut r, &req, 1_004).status, 401);
}

#[test]
fn forged_nonce_and_other_realm_get_a_challenge() {
    let mut r = registrar();
    let mut req = register("101", 1, "<sip:101@h>");
    let forged = format!("{:016x}{}", 1_000u64, "0".repeat(48));
    req.authorization = vec![authorization(Algorithm::Md5, "101", "s3cret", &forged, 1)];
    assert_eq!(run(&mut r, &req, 1_000).status, 401);
    let nonce = nonce_of(&run(&mut r, &req, 1_000));
    req.authorization = vec![authorization(Algorithm::Md5, "101", "s3cret", &nonce, 1)
        .replace("realm=\"zvonar.test\"", "realm=\"elsewhere\"")];
    assert_eq!(run(&mut r, &req, 1_000).status, 401);
    assert!(r.bindings("101", 1_000).is_empty());
}

#[test]
fn lockout_after_failures_then_expires_with_the_clock() {
    let mut r = registrar();
    let mut req = register("101", 1, "<sip:101@h>");
    let nonce = nonce_of(&run(&mut r, &req, 1_000));
    let good = authorization(Algorithm::Md5, "101", "s3cret", &nonce, 10);
    for (i, want) in [(1, 401), (2, 401), (3, 403)] {
        req.authorization = vec![authorization(Algorithm::Md5, "101", "wrong", &nonce, i)];
        assert_eq!(
            run(&mut r, &req, 1_000 + u64::from(i)).status,
            want,
            "failure {i}"
        );
    }
    // Locked: the right password gets 403 too, and no challenge.
    req.authorization = vec![good.clone()];
    let locked = run(&mut r, &req, 1_010);
    assert_eq!((locked.status, locked.headers.len()), (403, 0));
    // Another source is not locked.
    let mut other = req.clone();
    other.source = "192.0.2.8:5060".parse().expect("addr");
    other.client_ip = other.source.ip();
    let n2 = nonce_of(&run(&mut r, &register("101", 1, "<sip:101@h>"), 1_010));
    other.authorization = vec![authorization(Algorithm::Md5, "101", "s3cret", &n2, 1)];
    assert_eq!(run(&mut r, &other, 1_010).status, 200);
    // After lockout_s the pair may try again (with a fresh nonce).
    assert_eq!(run(&mut r, &req, 1_003 + 599).status, 403);
    let n3 = nonce_of(&run(
        &mut r,
        &register("101", 1, "<sip:101@h>"),
        1_003 + 600,
    ));
    req.authorization = vec![authorization(Algorithm::Md5, "101", "s3cret", &n3, 1)];
    req.cseq = 2;
    assert_eq!(run(&mut r, &req, 1_003 + 600).status, 200);
}

#[test]
fn over_wss_the_lockout_counts_the_browsers_address_not_the_relays() {
    // Two browsers behind the WSS relay: both connections come from loopback (the relay),
    // each from its own port, carrying the real client's address.
    let mut r = registrar();
    let relayed = |port: u16, client: &str| {
        let mut req = register("101", 1, "<sip:101@df7jal23ls0d.invalid;transport=ws>");
        req.source = SocketAddr::from(([127, 0, 0, 1], port));
        req.client_ip = client.parse().expect("ip");
        req.transport = "ws";
        req
    };
    let mut attacker = relayed(40001, "203.0.113.5");
    let nonce = nonce_of(&run(&mut r, &attacker, 1_000));
    for i in 1..=3 {
        attacker.authorization = vec![authorization(Algorithm::Md5, "101", "wrong", &nonce, i)];
        run(&mut r, &attacker, 1_000);
    }
    attacker.authorization = vec![authorization(Algorithm::Md5, "101", "s3cret", &nonce, 9)];
    assert_eq!(
        run(&mut r, &attacker, 1_001).status,
        403,
        "the attacker is locked out"
    );
    // The operator's browser, relayed from loopback too, is not.
    let mut operator = relayed(40002, "192.0.2.44");
    let n2 = nonce_of(&run(&mut r, &operator, 1_001));
    operator.authorization = vec![authorization(Algorithm::Md5, "101", "s3cret", &n2, 1)];
    assert_eq!(run(&mut r, &operator, 1_001).status, 200);
}

#[test]
fn success_clears_the_failure_count() {
    let mut r = registrar();
    let mut req = register("101", 1, "<sip:101@h>");
    let nonce = nonce_of(&run(&mut r, &req, 1_000));
    let mut nc = 0;
    for round in 0..3 {
        for _ in 0..2 {
            nc += 1;
            req.authorization = vec![authorization(Algorithm::Md5, "101", "wrong", &nonce, nc)];
            assert_eq!(run(&mut r, &req, 1_000).status, 401, "round {round}");
        }
        nc += 1;
        req.cseq += 1;
        req.authorization = vec![authorization(Algorithm::Md5, "101", "s3cret", &nonce, nc)];
        assert_eq!(run(&mut r, &req, 1_000).status, 200, "round {round}");
    }
}

#[test]
fn unknown_user_fails_like_a_wrong_password() {
    let mut r = registrar();
    let mut req = register("999", 1, "<sip:999@h>");
    let nonce = nonce_of(&run(&mut r, &req, 1_000));
    req.authorization = vec![authorization(Algorithm::Md5, "999", "x", &nonce, 1)];
    assert_eq!(run(&mut r, &req, 1_000).status, 401);
    req.authorization = vec![authorization(Algorithm::Md5, "999", "x", &nonce, 2)];
    assert_eq!(run(&mut r, &req, 1_000).status, 401);
    req.authorization = vec![authorization(Algorithm::Md5, "999", "x", &nonce, 3)];
    assert_eq!(run(&mut r, &req, 1_000).status, 403);
}

#[test]
fn a_user_registers_only_its_own_aor() {
    let mut r = registrar();
    let mut req = register("102", 1, "<sip:102@h>");
    let nonce = nonce_of(&run(&mut r, &req, 1_000));
    req.authorization = vec![authorization(Algorithm::Md5, "101", "s3cret", &nonce, 1)];
    assert_eq!(run(&mut r, &req, 1_000).status, 403);
    assert!(r.bindings("102", 1_000).is_empty());
}

#[test]
fn too_brief_star_and_bad_expires() {
    let mut r = registrar();
    let mut req = register("101", 1, "<sip:101@h>;expires=10");
    let nonce = nonce_of(&run(&mut r, &req, 1_000));
    req.authorization = vec![authorization(Algorithm::Md5, "101", "s3cret", &nonce, 1)];
    assert_eq!(
        run(&mut r, &req, 1_000),
        Reply {
            status: 423,
            headers: vec![("Min-Expires".into(), "60".into())]
        }
    );
    req.contacts = vec!["<sip:101@h>".into(), "<sip:101@g>".into()];
    req.authorization = vec![authorization(Algorithm::Md5, "101", "s3cret", &nonce, 2)];
    req.cseq = 2;
    assert_eq!(run(&mut r, &req, 1_000).headers.len(), 2);
    req.contacts = vec!["*".into()];
    req.expires = Some("soon".into());
    req.authorization = vec![authorization(Algorithm::Md5, "101", "s3cret", &nonce, 3)];
    req.cseq = 3;
    assert_eq!(run(&mut r, &req, 1_000).status, 400);
    req.expires = Some("0".into());
    req.authorization = vec![authorization(Algorithm::Md5, "101", "s3cret", &nonce, 4)];
    req.cseq = 4;
    assert_eq!(run(&mut r, &req, 1_000), Reply::plain(200));
    assert!(r.bindings("101", 1_000).is_empty());
}

#[test]
fn only_configured_algorithms_are_offered_and_accepted() {
    let mut r = registrar();
    r.config.algorithms = vec![Algorithm::Md5];
    let mut req = register("101", 1, "<sip:101@h>");
    let challenge = run(&mut r, &req, 1_000);
    assert_eq!(challenge.headers.len(), 1);
    assert!(challenge.headers[0].1.contains("algorithm=MD5"));
    let nonce = nonce_of(&challenge);
    req.authorization = vec![authorization(Algorithm::Sha256, "101", "s3cret", &nonce, 1)];
    assert_eq!(run(&mut r, &req, 1_000).status, 401);
    req.authorization = vec![authorization(Algorithm::Md5, "101", "s3cret", &nonce, 2)];
    assert_eq!(run(&mut r, &req, 1_000).status, 200);
}

#[test]
fn sip_crate_has_no_whisper_dependency() {
    let manifest = include_str!("../../Cargo.toml");
    assert!(
        !manifest.contains("whisper"),
        "zvonar-sip must build without ASR"
    );
}

/// Registers `contact` for 101 over `transport` from `peer` (challenge, then MD5 answer).
fn register_from(r: &mut Registrar, contact: &str, transport: &'static str, peer: &str, now: u64) {
    let mut req = register("101", 1, contact);
    req.call_id = format!("reg-{peer}");
    req.source = peer.parse().expect("addr");
    req.transport = transport;
    let nonce = nonce_of(&run(r, &req, now));
    req.cseq = 2;
    req.authorization = vec![authorization(Algorithm::Md5, "101", "s3cret", &nonce, 1)];
    assert_eq!(run(r, &req, now).status, 200);
}

#[test]
fn a_closed_websocket_takes_its_binding_with_it_at_once() {
    let mut r = registrar();
    let tab = "<sip:101-ab@ab.invalid;transport=ws>;+sip.instance=\"<urn:uuid:ab>\";expires=300";
    register_from(&mut r, tab, "ws", "10.0.0.2:40001", 1_000);
    // A desk phone on UDP from the very same address and port: UDP has no connection.
    register_from(
        &mut r,
        "<sip:101@10.0.0.2:40001>",
        "udp",
        "10.0.0.2:40001",
        1_000,
    );
    assert_eq!(r.bindings("101", 1_001).len(), 2);
    // Another connection closing changes nothing.
    assert!(r
        .connection_closed("10.0.0.2:40009".parse().expect("addr"))
        .is_empty());
    assert_eq!(r.bindings("101", 1_001).len(), 2);
    // The tab's WebSocket closes: its binding goes now, not 300 s later; the phone stays.
    assert_eq!(
        r.connection_closed("10.0.0.2:40001".parse().expect("addr")),
        ["101"]
    );
    let left = r.bindings("101", 1_002);
    assert_eq!(
        (left.len(), left[0].transport),
        (1, "udp"),
        "only the desk phone: {left:?}"
    );
}

#[test]
fn a_refresh_keeps_one_binding_whichever_socket_closes_first() {
    let tab = "<sip:101-ab@ab.invalid;transport=ws>;+sip.instance=\"<urn:uuid:ab>\";expires=300";
    // The new page registers before the old page's WebSocket is seen closing.
    let mut r = registrar();
    register_from(&mut r, tab, "ws", "10.0.0.2:40001", 1_000);
    register_from(&mut r, tab, "ws", "10.0.0.2:40002", 1_010);
    assert!(r
        .connection_closed("10.0.0.2:40001".parse().expect("addr"))
        .is_empty());
    let b = r.bindings("101", 1_011);
    assert_eq!(
        (b.len(), b[0].source),
        (1, Some("10.0.0.2:40002".parse().expect("addr")))
    );
    // The old socket closes first, then the new page registers: one binding again.
    let mut r = registrar();
    register_from(&mut r, tab, "ws", "10.0.0.2:40001", 1_000);
    assert_eq!(
        r.connection_closed("10.0.0.2:40001".parse().expect("addr")),
        ["101"]
    );
    assert!(r.bindings("101", 1_005).is_empty());
    register_from(&mut r, tab, "ws", "10.0.0.2:40002", 1_010);
    assert_eq!(r.bindings("101", 1_011).len(), 1);
}

#[test]
fn a_websocket_connection_speaks_for_the_account_registered_on_it() {
    let mut r = registrar();
    let tab = "<sip:101-ab@ab.invalid;transport=ws>;+sip.instance=\"<urn:uuid:ab>\";expires=300";
    register_from(&mut r, tab, "ws", "10.0.0.2:40001", 1_000);
    register_from(
        &mut r,
        "<sip:101@10.0.0.3:5060>",
        "udp",
        "10.0.0.3:5060",
        1_000,
    );
    let peer = |p: &str| p.parse::<SocketAddr>().expect("addr");
    assert_eq!(
        r.account_of_connection(peer("10.0.0.2:40001"), 1_001)
            .as_deref(),
        Some("101")
    );
    // Another connection from the same address, a UDP source, or after expiry: nobody.
    assert_eq!(r.account_of_connection(peer("10.0.0.2:40002"), 1_001), None);
    assert_eq!(r.account_of_connection(peer("10.0.0.3:5060"), 1_001), None);
    assert_eq!(r.account_of_connection(peer("10.0.0.2:40001"), 1_300), None);
}

#[test]
fn a_desk_phone_over_udp_is_recognised_by_its_account_and_registered_source() {
    let mut r = registrar();
    register_from(
        &mut r,
        "<sip:101@10.0.0.3:5062>",
        "udp",
        "10.0.0.3:5062",
        1_000,
    );
    let tab = "<sip:101-ab@ab.invalid;transport=ws>;expires=300";
    register_from(&mut r, tab, "ws", "10.0.0.2:40001", 1_000);
    let at = |p: &str| p.parse::<SocketAddr>().expect("addr");
    assert!(r.udp_account_from("101", at("10.0.0.3:5062"), 1_001));
    // Another port or address, another account in From, a stream binding, after expiry: no.
    assert!(!r.udp_account_from("101", at("10.0.0.3:5063"), 1_001));
    assert!(!r.udp_account_from("101", at("10.0.0.4:5062"), 1_001));
    assert!(!r.udp_account_from("102", at("10.0.0.3:5062"), 1_001));
    assert!(!r.udp_account_from("101", at("10.0.0.2:40001"), 1_001));
    assert!(!r.udp_account_from("101", at("10.0.0.3:5062"), 1_000 + 7_200));
}

/// Both steps of a desk phone's INVITE with `proxy_authorization`, the store holding
/// "s3cret" for 101.
fn run_invite(r: &mut Registrar, proxy_authorization: &[String], now: u64) -> Result<(), Reply> {
    let p = r.authorize_request(proxy_authorization, source().ip(), now)?;
    let ha1s: Vec<String> = (p.username() == "101")
        .then(|| digest::ha1(p.algorithm, "101", REALM, "s3cret"))
        .into_iter()
        .collect();
    r.verify_request("INVITE", "101", source().ip(), p, &ha1s, now)
}

#[test]
fn a_desk_phones_invite_is_challenged_with_407_and_passes_with_its_password() {
    let mut r = registrar();
    let challenge = run_invite(&mut r, &[], 1000).expect_err("challenged");
    assert_eq!(challenge.status, 407, "{challenge:?}");
    assert!(
        challenge
            .headers
            .iter()
            .all(|(n, v)| n == "Proxy-Authenticate" && v.contains("qop=\"auth\"")),
        "{challenge:?}"
    );
    let v = &challenge.headers[1].1; // MD5, after SHA-256
    let start = v.find("nonce=\"").expect("nonce") + 7;
    let nonce = v[start..start + 64].to_string();
    let good = authorization_for("INVITE", Algorithm::Md5, "101", "s3cret", &nonce, 1);
    assert_eq!(
        run_invite(&mut r, std::slice::from_ref(&good), 1001),
        Ok(())
    );
    // The same nc again is a replay: challenged anew.
    assert_eq!(
        run_invite(&mut r, &[good], 1002).map_err(|e| e.status),
        Err(407)
    );
    // A REGISTER's response does not answer for an INVITE (the method is in the digest).
    let wrong_method = authorization_for("REGISTER", Algorithm::Md5, "101", "s3cret", &nonce, 5);
    assert_eq!(
        run_invite(&mut r, &[wrong_method], 1003).map_err(|e| e.status),
        Err(407)
    );
    // Another account's valid credentials do not make this phone's call that account's.
    let other = authorization_for("INVITE", Algorithm::Md5, "102", "s3cret", &nonce, 6);
    let p = r
        .authorize_request(&[other], source().ip(), 1004)
        .expect("parsed");
    let ha1s = vec![digest::ha1(p.algorithm, "102", REALM, "s3cret")];
    assert_eq!(
        r.verify_request("INVITE", "101", source().ip(), p, &ha1s, 1004)
            .map_err(|e| e.status),
        Err(403)
    );
}

#[test]
fn wrong_invite_passwords_lock_the_phone_out() {
    let mut r = registrar();
    let nonce = {
        let c = run_invite(&mut r, &[], 1000).expect_err("challenged");
        let v = &c.headers[1].1;
        let start = v.find("nonce=\"").expect("nonce") + 7;
        v[start..start + 64].to_string()
    };
    let statuses: Vec<u16> = (1..=4)
        .map(|nc| {
            let bad = authorization_for("INVITE", Algorithm::Md5, "101", "wrong", &nonce, nc);
            run_invite(&mut r, &[bad], 1000 + u64::from(nc))
                .map_err(|e| e.status)
                .expect_err("refused")
        })
        .collect();
    assert_eq!(statuses, [407, 407, 403, 403], "lockout after 3 failures");
    let good = authorization_for("INVITE", Algorithm::Md5, "101", "s3cret", &nonce, 9);
    assert_eq!(
        run_invite(&mut r, &[good], 1010).map_err(|e| e.status),
        Err(403),
        "still locked out"
    );
}
