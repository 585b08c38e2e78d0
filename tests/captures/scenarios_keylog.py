# SPDX-License-Identifier: ISC
"""The key log capture scenarios (pcaps/keylog/; see keylog.py).

Each scenario starts the server it needs, captures real clients writing
their key logs, and declares per session (ksession) the version and suite
(checked against the client's output and tshark), the keys (logged,
removed or altered afterwards), and what the client did about the
certificate (its exit status and words).  Nothing is taken from
imapwatch.
"""

import os

from capture import NAME, USER, PW
from keylog import kscenario, SServer
import capture

H143 = "imap://%s/" % NAME
H993 = "imaps://%s/" % NAME
LOW = "DEFAULT:@SECLEVEL=0"     # weak test certificates still load


def tls_any(c, **kw):
    c.server("tls-any", **kw)


def login_lines():
    return "a1 LOGIN %s %s\na2 SELECT INBOX\na3 LOGOUT\n" % (USER, PW)


# =====================================================================
# TLS 1.2
# =====================================================================

@kscenario("keylog-tls12-aes128gcm-curl-imaps",
           "curl imaps:// --tls-max 1.2 ECDHE-RSA-AES128-GCM-SHA256, "
           "SSLKEYLOGFILE")
def _(c):
    tls_any(c)
    with c.capture():
        c.curl(H993, "--tlsv1.2", "--tls-max", "1.2", "--ciphers",
               "ECDHE-RSA-AES128-GCM-SHA256")
    c.ksession(0, "curl", "TLS 1.2", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256")


@kscenario("keylog-tls12-aes256gcm-s_client-starttls",
           "openssl s_client -starttls imap -tls1_2 "
           "ECDHE-RSA-AES256-GCM-SHA384 -keylogfile")
def _(c):
    tls_any(c)
    with c.capture():
        c.s_client("-starttls", "imap", "-tls1_2", "-cipher",
                   "ECDHE-RSA-AES256-GCM-SHA384", "-servername", NAME)
    c.ksession(0, "s_client", "TLS 1.2",
               "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384")


@kscenario("keylog-tls12-chacha20-imaplib-imaps",
           "python3 imaplib IMAP4_SSL, TLS 1.2 at most, "
           "ECDHE-RSA-CHACHA20-POLY1305, SSLContext.keylog_filename")
def _(c):
    tls_any(c)
    with c.capture():
        c.imaplib("--ssl", "--port", "993", "--name", NAME, "--tls-max",
                  "1.2", "--ciphers", "ECDHE-RSA-CHACHA20-POLY1305",
                  "--select")
    c.ksession(0, "imaplib", "TLS 1.2",
               "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256")


def etm(c, k, want):
    """Did the ServerHello echo encrypt_then_mac (extension 22)?"""
    st = c.facts.stream(k)
    out = capture.sh(["tshark", "-r", c.pcap, "-n", "-Y",
                      "tcp.stream == %d && tls.handshake.type == 2" % st.idx,
                      "-T", "fields", "-e", "tls.handshake.extension.type"])
    types = set(out.stdout.replace(",", " ").split())
    if ("22" in types) != want:
        capture.die("%s: encrypt_then_mac %s expected, ServerHello "
                    "extensions %s" % (c.name, want, sorted(types)))
    c.ksessions[-1]["encrypt_then_mac"] = want
    c.ksessions[-1]["source"]["encrypt_then_mac"] = \
        "tshark: the ServerHello %s extension 22" % (
            "has" if want else "lacks")


@kscenario("keylog-tls12-cbc-etm-s_client",
           "openssl s_client -tls1_2 ECDHE-RSA-AES128-SHA256: CBC, "
           "encrypt_then_mac negotiated")
def _(c):
    tls_any(c)
    with c.capture():
        c.s_client("-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA256",
                   "-servername", NAME)
    c.ksession(0, "s_client", "TLS 1.2",
               "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256")
    etm(c, 0, True)


@kscenario("keylog-tls12-cbc-no-etm-s_client",
           "openssl s_client -tls1_2 -no_etm ECDHE-RSA-AES256-SHA384: CBC, "
           "MAC-then-encrypt")
def _(c):
    tls_any(c)
    with c.capture():
        c.s_client("-tls1_2", "-no_etm", "-cipher",
                   "ECDHE-RSA-AES256-SHA384", "-servername", NAME)
    c.ksession(0, "s_client", "TLS 1.2",
               "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384")
    etm(c, 0, False)


@kscenario("keylog-tls12-cbc-sha1-curl-starttls",
           "curl imap:// --ssl-reqd (STARTTLS) TLS 1.2 ECDHE-RSA-AES256-SHA: "
           "CBC with HMAC-SHA1")
def _(c):
    tls_any(c)
    with c.capture():
        c.curl(H143, "--ssl-reqd", "--tlsv1.2", "--tls-max", "1.2",
               "--ciphers", "ECDHE-RSA-AES256-SHA")
    c.ksession(0, "curl", "TLS 1.2", "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA")
    etm(c, 0, True)


@kscenario("keylog-tls10-cbc-s_client",
           "openssl s_client -tls1 -no_etm ECDHE-RSA-AES128-SHA: TLS 1.0, "
           "CBC with the IV chained from record to record")
def _(c):
    tls_any(c)
    with c.capture():
        c.s_client("-tls1", "-no_etm", "-cipher",
                   "ECDHE-RSA-AES128-SHA:@SECLEVEL=0", "-servername", NAME)
    c.ksession(0, "s_client", "TLS 1.0", "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA")
    etm(c, 0, False)


@kscenario("keylog-tls12-missing-and-wrong-keys",
           "three curl imaps:// TLS 1.2 sessions; the key log keeps the "
           "first one's key, loses the second's, and has the third's "
           "master secret changed in its last digit")
def _(c):
    tls_any(c)
    with c.capture():
        for i in range(3):
            c.curl(H993, "--tlsv1.2", "--tls-max", "1.2",
                   label="curl%d" % (i + 1))
    c.edit_keys(1, "removed")
    c.edit_keys(2, "altered")
    c.ksession(0, "curl1", "TLS 1.2", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384")
    c.ksession(1, "curl2", "TLS 1.2", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
               keys="removed", decrypt=False)
    c.ksession(2, "curl3", "TLS 1.2", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
               keys="altered", decrypt=False)


# =====================================================================
# TLS 1.3
# =====================================================================

@kscenario("keylog-tls13-aes128gcm-curl-imaps",
           "curl imaps:// --tlsv1.3 --tls13-ciphers TLS_AES_128_GCM_SHA256")
def _(c):
    tls_any(c)
    with c.capture():
        c.curl(H993, "--tlsv1.3", "--tls13-ciphers", "TLS_AES_128_GCM_SHA256")
    c.ksession(0, "curl", "TLS 1.3", "TLS_AES_128_GCM_SHA256")


@kscenario("keylog-tls13-aes256gcm-s_client-starttls",
           "openssl s_client -starttls imap -tls1_3 TLS_AES_256_GCM_SHA384")
def _(c):
    tls_any(c)
    with c.capture():
        c.s_client("-starttls", "imap", "-tls1_3", "-ciphersuites",
                   "TLS_AES_256_GCM_SHA384", "-servername", NAME)
    c.ksession(0, "s_client", "TLS 1.3", "TLS_AES_256_GCM_SHA384")


@kscenario("keylog-tls13-chacha20-imaplib-starttls",
           "python3 imaplib STARTTLS to a dovecot whose only TLS 1.3 suite "
           "is TLS_CHACHA20_POLY1305_SHA256 (ssl_cipher_suites)")
def _(c):
    tls_any(c, suites="TLS_CHACHA20_POLY1305_SHA256")
    with c.capture():
        c.imaplib("--starttls", "--name", NAME, "--select")
    c.ksession(0, "imaplib", "TLS 1.3", "TLS_CHACHA20_POLY1305_SHA256")


@kscenario("keylog-tls13-compress-imaplib-starttls",
           "python3 imaplib STARTTLS, LOGIN, then COMPRESS DEFLATE inside "
           "TLS (dovecot's imap_zlib), CAPABILITY, SELECT, LOGOUT compressed")
def _(c):
    tls_any(c, compress=True)
    with c.capture():
        c.imaplib("--starttls", "--name", NAME, "--compress", "--select")
    c.ksession(0, "imaplib", "TLS 1.3", "TLS_AES_256_GCM_SHA384")


@kscenario("keylog-tls13-ccm-s_client",
           "openssl s_client -tls1_3 -ciphersuites TLS_AES_128_CCM_SHA256 to "
           "a dovecot with ssl_cipher_suites TLS_AES_128_CCM_SHA256")
def _(c):
    tls_any(c, suites="TLS_AES_128_CCM_SHA256")
    with c.capture():
        c.s_client("-tls1_3", "-ciphersuites", "TLS_AES_128_CCM_SHA256",
                   "-servername", NAME)
    c.ksession(0, "s_client", "TLS 1.3", "TLS_AES_128_CCM_SHA256")


@kscenario("keylog-tls13-resumed-s_client",
           "two openssl s_client -tls1_3 sessions to one dovecot login "
           "process: the second resumes the first's ticket (-sess_in)")
def _(c):
    tls_any(c, one_login=True)
    sess = os.path.join(capture.WORK, c.name + ".sess")
    with c.capture():
        c.s_client("-tls1_3", "-servername", NAME, "-sess_out", sess,
                   label="s_client1")
        c.s_client("-tls1_3", "-servername", NAME, "-sess_in", sess,
                   label="s_client2")
    c.ksession(0, "s_client1", "TLS 1.3", "TLS_AES_256_GCM_SHA384",
               resumed=False)
    c.ksession(1, "s_client2", "TLS 1.3", "TLS_AES_256_GCM_SHA384",
               resumed=True, note="resumed: no Certificate message")


@kscenario("keylog-tls13-hrr-s_client",
           "openssl s_client -tls1_3 -groups X25519:P-384 to a dovecot with "
           "ssl_curve_list P-384: a HelloRetryRequest for P-384")
def _(c):
    tls_any(c, curves="P-384")
    with c.capture():
        c.s_client("-tls1_3", "-groups", "X25519:P-384", "-servername", NAME)
    c.ksession(0, "s_client", "TLS 1.3", "TLS_AES_256_GCM_SHA384", hrr=True)


@kscenario("keylog-tls13-keyupdate-s_client",
           "openssl s_client -tls1_3 reading commands one a second: LOGIN, "
           "'k' (KeyUpdate), NOOP, 'K' (KeyUpdate asking the server for "
           "one back), NOOP, LOGOUT")
def _(c):
    tls_any(c)
    with c.capture():
        c.s_client_paced(["a1 LOGIN %s %s" % (USER, PW), "k", "a2 NOOP",
                          "K", "a3 NOOP", "a4 LOGOUT"], "-tls1_3",
                         "-servername", NAME)
    if c.logs["s_client"].count("KEYUPDATE") < 2:
        capture.die("s_client did not say KEYUPDATE twice")
    c.ksession(0, "s_client", "TLS 1.3", "TLS_AES_256_GCM_SHA384",
               key_updates=2)


def early_data(c, restart):
    """A ticket from openssl s_server -early_data, then 'a1 CAPABILITY' as
    0-RTT data with it; restart: to a second s_server, whose ticket keys
    are others (s_server never closes: the clients end with their
    input)."""
    sess = os.path.join(capture.WORK, c.name + ".sess")
    early = os.path.join(capture.WORK, c.name + ".early")
    with open(early, "w") as f:
        f.write("a1 CAPABILITY\r\n")
    c.dovecot.stop()
    open(c.dovecot.log, "a").close()
    srv = SServer(c, 993, "-tls1_3", "-early_data")
    try:
        with c.capture():
            c.s_client_paced(["a1 NOOP"], "-tls1_3", "-servername", NAME,
                             "-sess_out", sess, label="s_client1")
            if restart:
                c.logs["s_server1"] = srv.stop()
                srv = SServer(c, 993, "-tls1_3", "-early_data")
            c.s_client_paced(["a2 NOOP"], "-tls1_3", "-servername", NAME,
                             "-sess_in", sess, "-early_data", early,
                             label="s_client2")
    finally:
        c.logs["s_server2" if restart else "s_server"] = srv.stop()
    c.ksession(0, "s_client1", "TLS 1.3", "TLS_AES_256_GCM_SHA384",
               resumed=False)


@kscenario("keylog-tls13-early-data-s_server",
           "openssl s_server -early_data on :993; s_client gets a ticket, "
           "then resumes it sending 'a1 CAPABILITY' as 0-RTT data "
           "(-early_data): accepted")
def _(c):
    early_data(c, False)
    if "Early data received" not in c.logs["s_server"] and \
            "a1 CAPABILITY" not in c.logs["s_server"]:
        capture.die("s_server shows no early data")
    c.ksession(1, "s_client2", "TLS 1.3", "TLS_AES_256_GCM_SHA384",
               resumed=True, early="accepted")


@kscenario("keylog-tls13-early-data-rejected-s_server",
           "a ticket from one openssl s_server -early_data, used with 0-RTT "
           "data against a second s_server (other ticket keys): the early "
           "data is rejected, a full handshake follows")
def _(c):
    early_data(c, True)
    c.ksession(1, "s_client2", "TLS 1.3", "TLS_AES_256_GCM_SHA384",
               resumed=False, early="rejected")


@kscenario("keylog-tls13-missing-and-wrong-keys",
           "three curl imaps:// TLS 1.3 sessions; the key log keeps the "
           "first one's keys, loses the second's, and has every secret of "
           "the third changed in its last digit")
def _(c):
    tls_any(c)
    with c.capture():
        for i in range(3):
            c.curl(H993, "--tlsv1.3", label="curl%d" % (i + 1))
    c.edit_keys(1, "removed")
    c.edit_keys(2, "altered")
    c.ksession(0, "curl1", "TLS 1.3", "TLS_AES_256_GCM_SHA384")
    c.ksession(1, "curl2", "TLS 1.3", "TLS_AES_256_GCM_SHA384",
               keys="removed", decrypt=False)
    c.ksession(2, "curl3", "TLS 1.3", "TLS_AES_256_GCM_SHA384",
               keys="altered", decrypt=False)


# =====================================================================
# The certificates of pcaps/dovecot-cert-*, under TLS 1.3
# =====================================================================

def cert_facts(cert, sni):
    """What openssl says of a certificate file and a name."""
    x = capture.Cert(cert)
    return {"file": "tests/captures/certs/%s.pem" % cert, "sni": sni,
            "subject": x.subject, "issuer": x.issuer,
            "notbefore": x.notbefore, "notafter": x.notafter,
            "fingerprint": x.fingerprint, "der_sha1": x.fingerprint,
            "name_check": "match" if x.checkhost(sni) else "mismatch",
            "source": "openssl x509 on the file dovecot was given; "
                      "openssl x509 -checkhost %s" % sni}


CERTS13 = [
    ("good", "good", NAME),
    ("wildcard", "wildcard", NAME),
    ("wildcard-two-labels", "wildcard", "a.b.example.test"),
    ("wildcard-bare", "wildcard", "example.test"),
    ("mismatch", "mismatch", NAME),
    ("san-overrides-cn", "sanovercn", NAME),
    ("cn-only", "cnonly", NAME),
    ("expired", "expired", NAME),
    ("not-yet-valid", "notyet", NAME),
    ("self-signed", "selfsigned", NAME),
    ("rsa1024", "rsa1024", NAME),
    ("sha1", "sha1", NAME),
    ("ecdsa", "ecdsa", NAME),
    ("untrusted", "rogueleaf", NAME),
]


def cert13(label, cert, sni):
    @kscenario("keylog-tls13-cert-" + label,
               "certificate %s.pem, SNI %s, over TLS 1.3: openssl s_client "
               "-tls1_3 logs its keys and goes on whatever it thinks of the "
               "certificate" % (cert, sni))
    def _(c):
        tls_any(c, cert=cert)
        with c.capture():
            c.s_client("-tls1_3", "-cipher", LOW, "-servername", sni)
        c.ksession(0, "s_client", "TLS 1.3", "TLS_AES_256_GCM_SHA384",
                   cert=cert_facts(cert, sni), verify="accepted")


for _label, _cert, _sni in CERTS13:
    cert13(_label, _cert, _sni)


# =====================================================================
# Clients that go on with a bad certificate, and clients that refuse it
# =====================================================================

def bad_cert_clients(c, version):
    """Six sessions to a dovecot with the mismatch certificate (names
    other.example.org, the clients ask for imap.example.test): each client
    once told not to check and once told to."""
    v = {"1.2": ("--tlsv1.2", "--tls-max", "1.2"),
         "1.3": ("--tlsv1.3",)}[version]
    sc = "-tls1_2" if version == "1.2" else "-tls1_3"
    tls_any(c, cert="mismatch")
    with c.capture():
        c.curl(H993, "-k", *v, label="curl-insecure")
        c.curl(H993, *v, label="curl-verify")
        c.s_client(sc, "-servername", NAME, label="s_client-default")
        c.s_client(sc, "-servername", NAME, "-verify_hostname", NAME,
                   "-verify_return_error", label="s_client-verify")
        c.imaplib("--ssl", "--port", "993", "--name", NAME, "--tls-max",
                  version, label="imaplib-cert-none")
        c.imaplib("--ssl", "--port", "993", "--name", NAME, "--tls-max",
                  version, "--cafile", os.path.join(
                      capture.CERTS, "ca.pem"), "--verify-name",
                  label="imaplib-verify")
    vn = "TLS " + version
    facts = cert_facts("mismatch", NAME)
    for k, label, verdict in ((0, "curl-insecure", "accepted"),
                              (1, "curl-verify", "refused"),
                              (2, "s_client-default", "accepted"),
                              (3, "s_client-verify", "refused"),
                              (4, "imaplib-cert-none", "accepted"),
                              (5, "imaplib-verify", "refused")):
        # a client that checks the certificate inside the handshake
        # refuses it before it has TLS 1.2 keys to log; TLS 1.3 ones have
        # logged their handshake secrets by then; curl checks the name
        # after the handshake, keys logged
        c.ksession(k, label, vn if verdict == "accepted" else None,
                   cert=facts, verify=verdict,
                   keys="logged" if verdict == "accepted" else "auto")


@kscenario("keylog-badcert-tls12-mismatch",
           "TLS 1.2, certificate for other.example.org: curl -k, s_client "
           "(default) and imaplib (CERT_NONE) go on; curl, s_client "
           "-verify_hostname -verify_return_error and imaplib with the CA "
           "and check_hostname abort")
def _(c):
    bad_cert_clients(c, "1.2")


@kscenario("keylog-badcert-tls13-mismatch",
           "the same six clients over TLS 1.3: the refusing ones' alerts "
           "are encrypted under their handshake keys")
def _(c):
    bad_cert_clients(c, "1.3")


@kscenario("keylog-badcert-tls13-expired",
           "TLS 1.3, a certificate that expired in 2002: curl -k goes on, "
           "curl aborts")
def _(c):
    tls_any(c, cert="expired")
    with c.capture():
        c.curl(H993, "-k", "--tlsv1.3", label="curl-insecure")
        c.curl(H993, "--tlsv1.3", label="curl-verify")
    facts = cert_facts("expired", NAME)
    c.ksession(0, "curl-insecure", "TLS 1.3", cert=facts, verify="accepted")
    c.ksession(1, "curl-verify", cert=facts, verify="refused", keys="auto")
