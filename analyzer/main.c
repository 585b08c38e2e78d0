/*
 * main.c - the command line, tcpdump-style, and the run loop.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <json.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <pcap/pcap.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "capture.h"
#include "ciphers.h"
#include "config.h"
#include "engine.h"
#include "output.h"
#include "stats.h"
#include "x509.h"

#define MAX_FILES 256

static volatile sig_atomic_t got_stop, got_hup;
static struct iw_source *current;

struct options {
	const char	*files[MAX_FILES];
	int		 n_files;
	const char	*iface;
	struct iw_live_opts live;
	char		*filter;
	const char	*user;
	int		 stats_interval;	/* seconds, live */
	bool		 have_output;
};

enum {
	OPT_FLOWS = 256, OPT_ALL_TLS, OPT_IMAPS_PORTS, OPT_USERNAMES,
	OPT_USERNAME_SALT, OPT_MAX_FLOWS, OPT_TCP_TIMEOUT, OPT_CLOSED_TIMEOUT,
	OPT_REASM_FLOW_CAP, OPT_REASM_CAP, OPT_FRAG_MEMORY, OPT_VERIFY_CSUM,
	OPT_SERVER_NAME, OPT_SERVER_NAMES, OPT_POLICY, OPT_CA_FILE,
	OPT_BRUTEFORCE, OPT_STATS_INTERVAL, OPT_FORMAT,
};

static const struct option long_options[] = {
	{ "read", required_argument, NULL, 'r' },
	{ "interface", required_argument, NULL, 'i' },
	{ "filter", required_argument, NULL, 'f' },
	{ "output", required_argument, NULL, 'o' },
	{ "snaplen", required_argument, NULL, 's' },
	{ "buffer-size", required_argument, NULL, 'B' },
	{ "no-promiscuous-mode", no_argument, NULL, 'p' },
	{ "user", required_argument, NULL, 'Z' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ "flows", no_argument, NULL, OPT_FLOWS },
	{ "all-tls", no_argument, NULL, OPT_ALL_TLS },
	{ "imaps-ports", required_argument, NULL, OPT_IMAPS_PORTS },
	{ "usernames", required_argument, NULL, OPT_USERNAMES },
	{ "username-salt", required_argument, NULL, OPT_USERNAME_SALT },
	{ "max-flows", required_argument, NULL, OPT_MAX_FLOWS },
	{ "tcp-timeout", required_argument, NULL, OPT_TCP_TIMEOUT },
	{ "closed-timeout", required_argument, NULL, OPT_CLOSED_TIMEOUT },
	{ "reassembly-flow-cap", required_argument, NULL, OPT_REASM_FLOW_CAP },
	{ "reassembly-cap", required_argument, NULL, OPT_REASM_CAP },
	{ "frag-memory", required_argument, NULL, OPT_FRAG_MEMORY },
	{ "verify-checksums", no_argument, NULL, OPT_VERIFY_CSUM },
	{ "server-name", required_argument, NULL, OPT_SERVER_NAME },
	{ "server-names", required_argument, NULL, OPT_SERVER_NAMES },
	{ "policy", required_argument, NULL, OPT_POLICY },
	{ "ca-file", required_argument, NULL, OPT_CA_FILE },
	{ "bruteforce", required_argument, NULL, OPT_BRUTEFORCE },
	{ "stats-interval", required_argument, NULL, OPT_STATS_INTERVAL },
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ NULL, 0, NULL, 0 }
};

static void
usage(FILE *fp)
{
	fprintf(fp,
"usage: imapwatch [-p] [-r FILE]... [-i IFACE] [-o FILE]... [-f FILTER]\n"
"                 [-s SNAPLEN] [-B KIB] [-Z USER] [options] [FILTER WORDS]\n"
"\n"
"Passive IMAP/IMAPS analyzer: reads captures (-r, pcap or pcapng, '-' for\n"
"standard input) or a live interface (-i) and writes NDJSON events.\n"
"\n"
"  -r FILE               read a capture file (repeatable)\n"
"  -i IFACE              capture live on IFACE\n"
"  -p                    do not put the interface in promiscuous mode\n"
"  -s SNAPLEN            bytes captured per packet (live)\n"
"  -B KIB                kernel capture buffer in KiB (live)\n"
"  -f FILTER             BPF filter (also: trailing words, as tcpdump)\n"
"  -o FILE               write events to FILE (appended; '-' is standard\n"
"                        output, the default; repeatable; reopened on HUP)\n"
"  -Z USER               drop root to USER once the capture is open\n"
"  --flows               a flow event for every TCP connection\n"
"  --all-tls             report every TLS stream (event_type tls)\n"
"  --imaps-ports LIST    implicit-TLS IMAP ports (default 993)\n"
"  --usernames MODE      plain (default), hash (HMAC-SHA-256) or omit\n"
"  --username-salt TEXT  key for --usernames hash (default: random a run)\n"
"  --server-name A=NAME  expected certificate name for server A (ADDR,\n"
"                        ADDR:PORT or [V6]:PORT); repeatable\n"
"  --server-names FILE   the same, one A=NAME a line (# comments)\n"
"  --policy FILE         weak cipher suites and versions policy\n"
"  --ca-file FILE        CA bundle to validate server certificates\n"
"  --bruteforce N/SECS   failed logins from one client that raise\n"
"                        auth_bruteforce (default 10/60)\n"
"  --max-flows N         flows tracked at once (default 1000000)\n"
"  --tcp-timeout SECS    idle timeout of a connection (default 1800)\n"
"  --closed-timeout SECS how long a closed connection waits for\n"
"                        stragglers (default 60)\n"
"  --reassembly-flow-cap BYTES  out-of-order bytes held a flow (1 MiB)\n"
"  --reassembly-cap BYTES       ... in all (256 MiB)\n"
"  --frag-memory BYTES   IP fragments held (32 MiB)\n"
"  --verify-checksums    drop packets with bad TCP checksums (default:\n"
"                        count them only)\n"
"  --stats-interval SECS stats event period when live (default 60, 0 off)\n"
"  --format eve|ecs      field names: Suricata EVE (default) or Elastic ECS\n"
"  -h, --help            this help\n"
"  -V, --version         version\n");
}

static void
version(void)
{
	printf("imapwatch %s (%s; %s; json-c %s)\n", IW_VERSION,
	    pcap_lib_version(), OpenSSL_version(OPENSSL_VERSION),
	    json_c_version());
}

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "imapwatch: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	exit(1);
}

static uint64_t
parse_number(const char *s, const char *what, uint64_t min, uint64_t max)
{
	char *end;
	unsigned long long v;
	uint64_t mult = 1;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (end == s || errno != 0 || s[0] == '-')
		die("%s: not a number: %s", what, s);
	if (*end == 'k' || *end == 'K')
		mult = 1024, end++;
	else if (*end == 'm' || *end == 'M')
		mult = 1024 * 1024, end++;
	else if (*end == 'g' || *end == 'G')
		mult = 1024ULL * 1024 * 1024, end++;
	if (*end != '\0')
		die("%s: not a number: %s", what, s);
	if (v > max / mult || v * mult < min || v * mult > max)
		die("%s: %s is out of range (%llu..%llu)", what, s,
		    (unsigned long long)min, (unsigned long long)max);
	return v * mult;
}

static void
parse_ports(const char *list)
{
	char *copy = strdup(list), *tok, *save = NULL;

	if (copy == NULL)
		die("out of memory");
	iw_cfg.n_imaps_ports = 0;
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		if (iw_cfg.n_imaps_ports == IW_MAX_PORTS)
			die("--imaps-ports: at most %d ports", IW_MAX_PORTS);
		iw_cfg.imaps_ports[iw_cfg.n_imaps_ports++] =
		    (uint16_t)parse_number(tok, "--imaps-ports", 1, 65535);
	}
	free(copy);
}

static void
read_server_names(const char *path)
{
	char line[1024], *p, *end;
	FILE *fp = fopen(path, "r");
	int n = 0;

	if (fp == NULL)
		die("%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), fp) != NULL) {
		n++;
		p = line + strspn(line, " \t");
		end = p + strcspn(p, "#\r\n");
		while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		*end = '\0';
		if (*p == '\0')
			continue;
		if (iw_config_add_server_name(p) != 0)
			die("%s:%d: expected ADDR=NAME, got '%s'", path, n, p);
	}
	fclose(fp);
}

static void
parse_bruteforce(const char *s)
{
	const char *slash = strchr(s, '/');
	char count[32];

	if (slash == NULL || (size_t)(slash - s) >= sizeof(count))
		die("--bruteforce: expected COUNT/SECONDS, got '%s'", s);
	memcpy(count, s, (size_t)(slash - s));
	count[slash - s] = '\0';
	iw_cfg.bruteforce_count = (int)parse_number(count, "--bruteforce", 1,
	    1000000);
	iw_cfg.bruteforce_window = (int)parse_number(slash + 1,
	    "--bruteforce", 1, 86400 * 365);
}

static void
set_salt(const char *text)
{
	size_t n;

	memset(iw_cfg.username_salt, 0, sizeof(iw_cfg.username_salt));
	if (text == NULL) {
		if (getrandom(iw_cfg.username_salt,
		    sizeof(iw_cfg.username_salt), 0) !=
		    (ssize_t)sizeof(iw_cfg.username_salt))
			die("getrandom: %s", strerror(errno));
		return;
	}
	n = strlen(text);
	if (n > sizeof(iw_cfg.username_salt))
		n = sizeof(iw_cfg.username_salt);
	memcpy(iw_cfg.username_salt, text, n);
}

static void
add_output(struct options *o, const char *spec)
{
	char err[512];

	if (iw_output_add(spec, err, sizeof(err)) != 0)
		die("%s", err);
	o->have_output = true;
}

/* Long options that only set iw_cfg. */
static void
long_option(int c, const char *arg)
{
	switch (c) {
	case OPT_FLOWS:
		iw_cfg.flows = true;
		break;
	case OPT_ALL_TLS:
		iw_cfg.all_tls = true;
		break;
	case OPT_IMAPS_PORTS:
		parse_ports(arg);
		break;
	case OPT_USERNAMES:
		if (strcmp(arg, "plain") == 0)
			iw_cfg.usernames = IW_USERNAMES_PLAIN;
		else if (strcmp(arg, "hash") == 0)
			iw_cfg.usernames = IW_USERNAMES_HASH;
		else if (strcmp(arg, "omit") == 0)
			iw_cfg.usernames = IW_USERNAMES_OMIT;
		else
			die("--usernames: expected plain, hash or omit");
		break;
	case OPT_USERNAME_SALT:
		set_salt(arg);
		break;
	case OPT_MAX_FLOWS:
		iw_cfg.max_flows = parse_number(arg, "--max-flows", 1,
		    100000000);
		break;
	case OPT_TCP_TIMEOUT:
		iw_cfg.tcp_idle_timeout = (int)parse_number(arg,
		    "--tcp-timeout", 1, 86400 * 30);
		break;
	case OPT_CLOSED_TIMEOUT:
		iw_cfg.tcp_closed_timeout = (int)parse_number(arg,
		    "--closed-timeout", 0, 86400);
		break;
	case OPT_REASM_FLOW_CAP:
		iw_cfg.reasm_flow_cap = parse_number(arg,
		    "--reassembly-flow-cap", 0, 1ULL << 30);
		break;
	case OPT_REASM_CAP:
		iw_cfg.reasm_global_cap = parse_number(arg,
		    "--reassembly-cap", 0, 1ULL << 40);
		break;
	case OPT_FRAG_MEMORY:
		iw_cfg.frag_mem_cap = parse_number(arg, "--frag-memory", 0,
		    1ULL << 36);
		break;
	case OPT_VERIFY_CSUM:
		iw_cfg.verify_checksums = true;
		break;
	case OPT_SERVER_NAME:
		if (iw_config_add_server_name(arg) != 0)
			die("--server-name: expected ADDR=NAME, got '%s'",
			    arg);
		break;
	case OPT_SERVER_NAMES:
		read_server_names(arg);
		break;
	case OPT_POLICY:
		iw_cfg.policy_file = arg;
		break;
	case OPT_CA_FILE:
		iw_cfg.ca_file = arg;
		break;
	case OPT_BRUTEFORCE:
		parse_bruteforce(arg);
		break;
	case OPT_FORMAT:
		if (strcmp(arg, "eve") == 0)
			iw_sensor.format = IW_FORMAT_EVE;
		else if (strcmp(arg, "ecs") == 0)
			iw_sensor.format = IW_FORMAT_ECS;
		else
			die("--format: expected eve or ecs");
		break;
	}
}

/* Files named by options are read now: a mistake in them is an error at
 * start, not a silent default later. */
static void
load_policy_and_ca(void)
{
	char err[512];

	if (iw_cfg.policy_file != NULL &&
	    iw_policy_load(iw_cfg.policy_file, err, sizeof(err)) != 0)
		die("--policy: %s", err);
	if (iw_x509_load_ca(err, sizeof(err)) != 0)
		die("--ca-file: %s", err);
}

static char *
join_words(int argc, char **argv)
{
	size_t len = 1;
	char *s;
	int i;

	for (i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	s = calloc(1, len);
	if (s == NULL)
		die("out of memory");
	for (i = 0; i < argc; i++) {
		if (i > 0)
			strcat(s, " ");
		strcat(s, argv[i]);
	}
	return s;
}

static void
parse_options(int argc, char **argv, struct options *o)
{
	int c;

	memset(o, 0, sizeof(*o));
	o->live.promisc = true;
	o->stats_interval = -1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+r:i:f:o:s:B:pZ:hV",
	    long_options, NULL)) != -1) {
		switch (c) {
		case 'r':
			if (o->n_files == MAX_FILES)
				die("too many -r files (at most %d)", MAX_FILES);
			o->files[o->n_files++] = optarg;
			break;
		case 'i':
			o->iface = optarg;
			break;
		case 'f':
			free(o->filter);
			o->filter = strdup(optarg);
			break;
		case 'o':
			add_output(o, optarg);
			break;
		case 's':
			o->live.snaplen = (int)parse_number(optarg, "-s", 0,
			    262144);
			break;
		case 'B':
			o->live.buffer_kib = (int)parse_number(optarg, "-B", 1,
			    INT_MAX / 1024);
			break;
		case 'p':
			o->live.promisc = false;
			break;
		case 'Z':
			o->user = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			version();
			exit(0);
		case OPT_STATS_INTERVAL:
			o->stats_interval = (int)parse_number(optarg,
			    "--stats-interval", 0, 86400);
			break;
		case '?':
			if (optopt != 0 && optopt < 256)
				die("unknown option -%c or missing argument "
				    "(see --help)", optopt);
			die("unknown option %s or missing argument (see --help)",
			    argv[optind - 1]);
		default:
			long_option(c, optarg);
		}
	}
	if (optind < argc) {
		if (o->filter != NULL)
			die("give the filter either with -f or as trailing "
			    "words, not both");
		o->filter = join_words(argc - optind, argv + optind);
	}
	if (o->n_files == 0 && o->iface == NULL)
		die("nothing to read: give -r FILE or -i IFACE (see --help)");
	if (o->n_files > 0 && o->iface != NULL)
		die("give -r or -i, not both");
	if (o->stats_interval < 0)
		o->stats_interval = o->iface != NULL ? 60 : 0;
	load_policy_and_ca();
}

static void
on_stop(int sig)
{
	(void)sig;
	got_stop = 1;
	iw_source_breakloop(current);
}

static void
on_hup(int sig)
{
	(void)sig;
	got_hup = 1;
}

static void
install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static void
drop_privileges(const char *user)
{
	struct passwd *pw = getpwnam(user);

	if (pw == NULL)
		die("-Z %s: no such user", user);
	if (initgroups(pw->pw_name, pw->pw_gid) != 0 ||
	    setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0)
		die("-Z %s: cannot drop privileges: %s", user,
		    strerror(errno));
	if (setuid(0) == 0 && pw->pw_uid != 0)
		die("-Z %s: root privileges could be regained", user);
}

static double
wall_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Live, idle: timeouts and stats follow the wall clock from the last
 * packet's time. */
static iw_time
live_clock(double wall_at_last)
{
	iw_time t = iw_engine_now();

	if (t == 0)
		t = (iw_time)time(NULL) * IW_USEC;
	return t + (iw_time)((wall_seconds() - wall_at_last) * IW_USEC);
}

static void
kernel_stats(struct iw_source *s)
{
	uint64_t r, d, i;

	if (iw_source_stats(s, &r, &d, &i)) {
		iw_stats.kernel_received = r;
		iw_stats.kernel_dropped = d;
		iw_stats.iface_dropped = i;
	}
}

/* Reads one source to its end; false on a live capture error. */
static bool
run_source(struct iw_source *s, const struct options *o)
{
	struct iw_rawpkt pkt;
	double wall_last = wall_seconds(), next_stats;
	enum iw_next rc;

	next_stats = wall_last + o->stats_interval;
	current = s;
	while (!got_stop) {
		if (got_hup) {
			got_hup = 0;
			iw_output_reopen();
		}
		rc = iw_source_next(s, &pkt);
		if (rc == IW_NEXT_PACKET) {
			iw_engine_packet(&pkt);
			if (iw_source_is_live(s))
				wall_last = wall_seconds();
		} else if (rc == IW_NEXT_TIMEOUT) {
			iw_engine_tick(live_clock(wall_last));
		} else if (rc == IW_NEXT_EOF) {
			break;
		} else {
			if (got_stop)
				break;
			fprintf(stderr, "imapwatch: warning: %s: %s; the "
			    "capture was analysed up to there\n",
			    iw_source_name(s), iw_source_error(s));
			iw_stats.input_cut_short = true;
			snprintf(iw_stats.input_error,
			    sizeof(iw_stats.input_error), "%s: %s",
			    iw_source_name(s), iw_source_error(s));
			if (iw_source_is_live(s))
				return false;
			break;
		}
		if (iw_source_is_live(s) && o->stats_interval > 0 &&
		    wall_seconds() >= next_stats) {
			next_stats = wall_seconds() + o->stats_interval;
			kernel_stats(s);
			iw_stats_emit(live_clock(wall_last));
		}
	}
	if (iw_source_is_live(s))
		kernel_stats(s);
	current = NULL;
	return true;
}

static struct iw_source *
open_source(const struct options *o, const char *file)
{
	struct iw_source *s;
	char err[PCAP_ERRBUF_SIZE + 512];

	if (file != NULL)
		s = iw_source_open_file(file, err, sizeof(err));
	else
		s = iw_source_open_live(o->iface, &o->live, err, sizeof(err));
	if (s == NULL)
		die("%s", err);
	if (o->filter != NULL &&
	    iw_source_set_filter(s, o->filter, err, sizeof(err)) != 0)
		die("%s", err);
	return s;
}

int
main(int argc, char **argv)
{
	struct iw_source *sources[MAX_FILES];
	struct options o;
	int i, n;
	bool ok = true;

	iw_config_defaults(&iw_cfg);
	set_salt(NULL);
	parse_options(argc, argv, &o);
	/* open everything first: a bad input fails before any event */
	n = o.iface != NULL ? 1 : o.n_files;
	for (i = 0; i < n; i++)
		sources[i] = open_source(&o, o.iface != NULL ? NULL :
		    o.files[i]);
	if (!o.have_output)
		add_output(&o, "-");
	if (o.user != NULL)
		drop_privileges(o.user);
	install_signals();
	iw_engine_init();
	for (i = 0; i < n && !got_stop; i++)
		ok = run_source(sources[i], &o) && ok;
	iw_engine_finish();
	iw_stats_emit(iw_engine_now());
	iw_output_close();
	for (i = 0; i < n; i++)
		iw_source_close(sources[i]);
	free(o.filter);
	return ok ? 0 : 1;
}
