#!/bin/bash
# SPDX-License-Identifier: ISC
# End to end, live: a veth pair between two network namespaces made here
# (iwlive-srv 10.88.0.1, iwlive-cli 10.88.0.2), a real dovecot (cleartext
# and STARTTLS on 143, IMAPS on 993) and a real redis-server in one, real
# clients (curl, python imaplib, openssl s_client) in the other,
# `imapwatch -i` on the server's end writing to a file and to Redis.
# Checks the flow, session and alert events in both sinks, valid against
# the schema, no password anywhere, SIGHUP reopening the file (as
# logrotate does) and SIGTERM flushing an open connection; all of it
# with one worker, then with two (--workers 2: two capture handles in one
# PACKET_FANOUT group).  Nothing leaves the two namespaces.
set -u
cd "$(dirname "$0")/.." || exit 2
. tests/lib/iwtest.sh
IW=$(readlink -f "$IW")
SRV=iwlive-srv CLI=iwlive-cli
PW='Live-Secret-7q'

if [ "$(id -u)" != 0 ]; then
	skip "live capture needs root (network namespaces, dovecot)"
	exit 0
fi
# make test-deps installs these: as root, their absence is a failure
for c in dovecot curl redis-server ip openssl; do
	command -v $c >/dev/null; ok $? "$c is installed"
done
[ "$IW_FAILS" -eq 0 ] || finish
T=$(mktemp -d /tmp/iw-live.XXXXXX)
chmod 755 "$T"
CERTS=$PWD/tests/captures/certs

cleanup() {
	local ns pids
	for ns in $SRV $CLI; do
		pids=$(ip netns pids $ns 2>/dev/null)
		[ -n "$pids" ] && kill -9 $pids 2>/dev/null
		ip netns del $ns 2>/dev/null
	done
	[ -n "${KEEP:-}" ] && echo "kept $T" || rm -rf "$T"
}
trap cleanup EXIT
for ns in $SRV $CLI; do ip netns del $ns 2>/dev/null; done

ip netns add $SRV && ip netns add $CLI &&
ip link add iwlive-s type veth peer name iwlive-c &&
ip link set iwlive-s netns $SRV && ip link set iwlive-c netns $CLI &&
ip -n $SRV addr add 10.88.0.1/24 dev iwlive-s &&
ip -n $CLI addr add 10.88.0.2/24 dev iwlive-c &&
ip -n $SRV link set iwlive-s up && ip -n $CLI link set iwlive-c up &&
ip -n $SRV link set lo up && ip -n $CLI link set lo up
ok $? "namespaces and veth pair"

# dovecot: cleartext IMAP, plaintext logins allowed, one passwd-file user
mkdir -p "$T/run" "$T/state" "$T/home/alice"
chown -R nobody:nogroup "$T/home"
echo "alice:{PLAIN}$PW::::::" >"$T/passwd"
cat >"$T/dovecot.conf" <<EOF
base_dir = $T/run
state_dir = $T/state
instance_name = iwlive
log_path = $T/dovecot.log
protocols = imap
listen = 10.88.0.1
ssl = yes
ssl_cert = <$CERTS/good.chain.pem
ssl_key = <$CERTS/good.key
ssl_dh = <$CERTS/dh.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $T/passwd
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$T/home/%u
}
mail_location = maildir:~/Maildir
service anvil {
  chroot =
}
EOF
ip netns exec $SRV dovecot -F -c "$T/dovecot.conf" >"$T/dovecot.out" 2>&1 &
disown
for i in $(seq 50); do
	ip netns exec $SRV "$PY" -c 'import socket; socket.create_connection(("10.88.0.1", 143), 1)' 2>/dev/null && break
	sleep 0.1
done
ip netns exec $CLI "$PY" -c 'import socket; socket.create_connection(("10.88.0.1", 143), 1)'
ok $? "dovecot listens on 10.88.0.1:143"

# redis on the server namespace's loopback, for imapwatch's redis sink
ip netns exec $SRV redis-server --port 6390 --bind 127.0.0.1 --save '' \
    --appendonly no --daemonize no >"$T/redis.out" 2>&1 &
disown
for i in $(seq 50); do
	ip netns exec $SRV redis-cli -p 6390 ping >/dev/null 2>&1 && break
	sleep 0.1
done
ip netns exec $SRV redis-cli -p 6390 ping | grep -q PONG
ok $? "redis-server answers on the server namespace's loopback"

# One run of the scenario with n workers (--workers 2: two capture
# handles in one PACKET_FANOUT group, one reader, two worker threads)
scenario() {	# n
	local n=$1 W="--workers $1" D="$T/w$1" i
	mkdir -m 755 "$D"
	# the TLS clients write their keys here as they go: imapwatch reads what
	# they append (once a second), holding a session's records until then
	: >"$D/keys.log" && chmod 600 "$D/keys.log"
	ip netns exec $SRV "$IW" -i iwlive-s --workers $n --flows \
	    -o "$D/events.json" -o redis://127.0.0.1:6390/imapwatch-$n \
	    --keylog "$D/keys.log" 2>"$D/iw.err" &
	IWPID=$!
	# wait until the capture is open (its packet sockets, one per worker, show
	# in the server namespace, where nothing else captures), then a little for
	# the bind
	for i in $(seq 100); do
		[ "$(ip netns exec $SRV cat /proc/net/packet | wc -l)" -gt $n ] && break
		sleep 0.1
	done
	sleep 0.5
	kill -0 $IWPID 2>/dev/null; ok $? "imapwatch -i runs ($W)"

	imap_login() {
		ip netns exec $CLI curl -s --max-time 10 "imap://10.88.0.1/" \
		    --user "alice:$PW" --login-options AUTH=LOGIN -X "$1" >/dev/null
	}
	imap_login "CAPABILITY"; ok $? "curl logs in (AUTH=LOGIN, cleartext) ($W)"
	sleep 1

	# logrotate: move the file, HUP, a new file gets the events that follow
	mv "$D/events.json" "$D/events.1.json"
	kill -HUP $IWPID
	sleep 0.5
	ip netns exec $CLI "$PY" -c '
import imaplib, sys
m = imaplib.IMAP4("10.88.0.1")
m.login("alice", sys.argv[1])
m.select("INBOX")
m.logout()' "$PW"
	ok $? "second session (python imaplib: the LOGIN command) ($W)"

	# STARTTLS with SNI, then a LOGIN inside TLS (openssl s_client)
	{ sleep 1; printf 'a1 LOGIN alice %s\r\n' "$PW"; sleep 0.5;
	  printf 'a2 LOGOUT\r\n'; sleep 0.5; } |
	    ip netns exec $CLI openssl s_client -quiet -starttls imap \
	    -connect 10.88.0.1:143 -servername imap.example.test \
	    -keylogfile "$D/keys.log" >"$D/sclient.out" 2>&1
	grep -q "a1 OK" "$D/sclient.out"
	ok $? "STARTTLS session (openssl s_client) ($W)"

	# implicit TLS on 993 (curl imaps://, no certificate check: test CA)
	ip netns exec $CLI env SSLKEYLOGFILE="$D/keys.log" curl -s -k \
	    --max-time 10 "imaps://10.88.0.1/" --user "alice:$PW" \
	    -X "CAPABILITY" >/dev/null
	ok $? "IMAPS session (curl imaps://) ($W)"
	sleep 1

	# a connection left open when SIGTERM comes
	ip netns exec $CLI "$PY" -c '
import socket, time
s = socket.create_connection(("10.88.0.1", 143))
s.recv(1000)
s.sendall(b"a1 CAPABILITY\r\n")
s.recv(1000)
time.sleep(30)' &
	HOLD=$!
	disown
	sleep 1.5
	kill -TERM $IWPID
	wait $IWPID
	ok $? "SIGTERM: clean exit, status 0 ($W)"
	kill $HOLD 2>/dev/null
	clean_stderr "$D/iw.err" "imapwatch -i $W"

	ip netns exec $SRV redis-cli -p 6390 --raw LRANGE imapwatch-$n 0 -1 \
	    >"$D/redis.json"
	ok $? "events read back from redis ($W)"

	"$PY" - "$D" "$PW" "$PWD/tests/schema" "$W" <<'EOF'
import base64, binascii, json, sys
d, pw = sys.argv[1], sys.argv[2]
sys.path.insert(0, sys.argv[3])
import schemas
def ok(c, what):
    print("%s - %s (%s)" % ("ok" if c else "not ok", what, sys.argv[4]))
def events(name):
    with open("%s/%s" % (d, name)) as f:
        text = f.read()
    ok(text.endswith("\n"), "%s ends with a whole line" % name)
    return [json.loads(l) for l in text.splitlines()], text
first, t1 = events("events.1.json")
second, t2 = events("events.json")
for t in (t1, t2):
    for secret in (pw, base64.b64encode(pw.encode()).decode()):
        ok(secret not in t, "no password in the events (%s...)" % secret[:4])
def of(evs, kind):
    return [e for e in evs if e["event_type"] == kind]
# a closed connection's flow event waits --closed-timeout for stragglers:
# it may land after the reopen
# (Suricata's flow.reason says why the record ended; tcp.state how the
# connection did)
f1 = [e for e in of(first + second, "flow") if e["dest_port"] == 143 and
      e["tcp"]["state"] == "closed"]
ok(len(f1) == 3, "three closed flows to 143 (curl, imaplib, s_client)")
ok(all(f["src_ip"] == "10.88.0.2" and f["dest_ip"] == "10.88.0.1"
       for f in f1), "flows: client 10.88.0.2, server 10.88.0.1")
ok(all(f["flow"]["pkts_toserver"] > 3 and f["flow"]["pkts_toclient"] > 3 and
       f["flow"]["reason"] in ("timeout", "shutdown") for f in f1),
   "flows: packets both ways, ended by the close")
s1 = of(first, "imap")
ok(len(s1) == 1 and s1[0]["imap"]["mode"] == "cleartext",
   "first file: a cleartext imap session")
ok(any(a.get("username") == "alice" and a.get("mechanism") == "LOGIN"
       for a in (s1[0]["imap"].get("auth", []) if s1 else [])),
   "session: AUTHENTICATE LOGIN as alice")
ok(any(e["alert"]["signature"] == "cleartext_auth"
       for e in of(first, "alert")), "alert cleartext_auth")
s2 = of(second, "imap")
ok(any(a.get("command") == "LOGIN"
       for s in s2 for a in s["imap"].get("auth", [])),
   "after SIGHUP: the new file has the LOGIN session")
ok(any(e["alert"]["signature"] == "cleartext_login"
       for e in of(second, "alert")), "after SIGHUP: cleartext_login alert")
open_flows = [e for e in of(second, "flow") if e["flow"]["reason"] ==
              "shutdown" and e["tcp"]["state"] != "closed"]
ok(len(open_flows) == 1, "SIGTERM: the open connection's flow is flushed")
ok(second[-1]["event_type"] == "stats", "SIGTERM: stats closes the file")
ok(not of(first, "stats"), "the stats event is written once, at the end")

# the STARTTLS and IMAPS sessions
modes = {s["imap"]["mode"]: s for s in of(first + second, "imap")}
st = modes.get("starttls")
ok(st is not None and st["tls"].get("version", "").startswith("TLS") and
   st["tls"].get("sni") == "imap.example.test" and
   st["tls"].get("established") is True,
   "STARTTLS session: TLS established, SNI imap.example.test")
ok(st is not None and st["tls"].get("name_check", {}).get("result") in
   ("match", "encrypted"), "STARTTLS session: name check not failed")
it = modes.get("implicit_tls")
ok(it is not None and it["dest_port"] == 993 and
   it["tls"].get("established") is True, "IMAPS session on 993")

# --keylog live: the keys came after the handshakes reached imapwatch
ins = (st or {}).get("imap", {}).get("inside_tls", {})
ok(ins.get("decrypted") is True and
   [(a.get("command"), a.get("username"), a.get("status"))
    for a in ins.get("auth", [])] == [("LOGIN", "alice", "OK")],
   "--keylog: the LOGIN inside STARTTLS decrypted (alice, OK)")
ins = (it or {}).get("imap", {}).get("inside_tls", {})
ok(ins.get("decrypted") is True and
   "CAPABILITY" in ins.get("commands", {}).get("by_name", {}),
   "--keylog: curl's CAPABILITY inside IMAPS decrypted")
dec = second[-1]["stats"]["sessions"].get("decryption", {})
ok(dec.get("sessions_decrypted", 0) >= 2 and
   dec.get("held_bytes_dropped") == 0,
   "--keylog: stats count the decrypted sessions (%r)" % dec)
with open("%s/keys.log" % d) as f:
    secrets = [l.split()[2] for l in f if len(l.split()) == 3]
allt = t1 + t2
leak = [s for s in secrets for form in (s.lower(), s.upper(),
        base64.b64encode(binascii.unhexlify(s)).decode().rstrip("="))
        if form in allt]
ok(secrets and not leak, "--keylog: none of the %d secrets in the events"
   % len(secrets))

# the redis sink has what the file sink has
with open("%s/redis.json" % d) as f:
    rtext = f.read()
red = [json.loads(l) for l in rtext.splitlines() if l.strip()]
ok(len(red) == len(first) + len(second),
   "redis has every event (%d, files %d)" % (len(red), len(first) +
                                             len(second)))
key = lambda e: json.dumps(e, sort_keys=True)
ok(sorted(map(key, red)) == sorted(map(key, first + second)),
   "redis and file sinks carry the same events")
for secret in (pw, base64.b64encode(pw.encode()).decode()):
    ok(secret not in rtext, "no password in redis (%s...)" % secret[:4])
v = schemas.validators()
bad = [e for e in red if next(iter(v["eve"].iter_errors(e)), None)]
ok(not bad, "every event valid against the schema (%d)" % len(red))
EOF
	# the checks above run in one python: if it dies, they vanish
	ok $? "the event checks ran to their end ($W)"
}

scenario 1
scenario 2
finish
