/*
 * sipsend: a raw SIP peer for the edge's hostile tests. SIPp builds its
 * messages itself; these tests need bytes SIPp will not send (invalid
 * UTF-8, forged To-tags and Route sets, missing headers, a Via port out
 * of range) and a phone that answers with a hostile reason phrase.
 *
 *   sipsend [-T] -b IP:PORT -s IP:PORT [-w MS] FILE
 *       sends FILE as one message from the local address (UDP, or TCP with
 *       -T; lone LF become CRLF unless the file holds a CR), then prints
 *       the status line of every reply until a final one or MS ms (2000).
 *       Exit 0 when a reply came, 1 when none did.
 *   sipsend -L -b IP:PORT [-w MS] [-r 'CODE REASON']
 *       a UDP phone: prints the first line of each message it receives for
 *       MS ms; with -r it answers every INVITE with that status (To-tag
 *       added, Content-Length 0) and every BYE with 200.
 *
 * A test peer, not platform code: it copies headers textually and parses
 * no more SIP than it must.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int parse_addr(const char *s, struct sockaddr_in *a)
{
	char host[64];
	const char *colon = strrchr(s, ':');

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_port = htons((unsigned short)atoi(colon + 1));
	return inet_pton(AF_INET, host, &a->sin_addr) == 1 ? 0 : -1;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* prints the first line of buf */
static void first_line(const char *buf, size_t n)
{
	size_t i = 0;

	while (i < n && buf[i] != '\r' && buf[i] != '\n')
		i++;
	fwrite(buf, 1, i, stdout);
	fputc('\n', stdout);
	fflush(stdout);
}

/* the value of header name (case-insensitive, at a line start), or NULL;
 * copies up to the end of the line into out */
static const char *header(const char *msg, const char *name, char *out, size_t size)
{
	size_t nl = strlen(name);
	const char *p = msg;

	while ((p = strchr(p, '\n'))) {
		p++;
		if (!strncasecmp(p, name, nl) && p[nl] == ':') {
			const char *v = p + nl + 1, *e;
			size_t len;

			while (*v == ' ')
				v++;
			e = strpbrk(v, "\r\n");
			len = e ? (size_t)(e - v) : strlen(v);
			if (len >= size)
				len = size - 1;
			memcpy(out, v, len);
			out[len] = '\0';
			return out;
		}
	}
	return NULL;
}

static int phone(int fd, long wait_ms, const char *status)
{
	long end = now_ms() + wait_ms;
	char buf[65536];

	for (;;) {
		long left = end - now_ms();
		struct pollfd pfd = { fd, POLLIN, 0 };
		struct sockaddr_in from;
		socklen_t fl = sizeof(from);
		ssize_t n;

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			return 0;
		n = recvfrom(fd, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&from, &fl);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		first_line(buf, (size_t)n);
		int invite = !strncmp(buf, "INVITE ", 7), bye = !strncmp(buf, "BYE ", 4);
		if (!status || (!invite && !bye))
			continue;
		char via[2048], f[1024], to[1024], cid[1024], cseq[256], out[8192];
		if (!header(buf, "Via", via, sizeof(via)) || !header(buf, "From", f, sizeof(f)) ||
		    !header(buf, "To", to, sizeof(to)) || !header(buf, "Call-ID", cid, sizeof(cid)) ||
		    !header(buf, "CSeq", cseq, sizeof(cseq)))
			continue;
		int len = snprintf(out, sizeof(out),
		                   "SIP/2.0 %s\r\nVia: %s\r\nFrom: %s\r\nTo: %s%s\r\nCall-ID: %s\r\n"
		                   "CSeq: %s\r\nContent-Length: 0\r\n\r\n",
		                   invite ? status : "200 OK", via, f, to,
		                   strstr(to, "tag=") ? "" : ";tag=sipsend1", cid, cseq);
		if (len > 0 && (size_t)len < sizeof(out))
			sendto(fd, out, (size_t)len, 0, (struct sockaddr *)&from, fl);
	}
}

int main(int argc, char **argv)
{
	int tcp = 0, listen_mode = 0, opt;
	long wait_ms = 2000;
	const char *bind_s = NULL, *server_s = NULL, *status = NULL;
	struct sockaddr_in local, server;

	while ((opt = getopt(argc, argv, "TLb:s:w:r:")) != -1) {
		switch (opt) {
		case 'T': tcp = 1; break;
		case 'L': listen_mode = 1; break;
		case 'b': bind_s = optarg; break;
		case 's': server_s = optarg; break;
		case 'w': wait_ms = atol(optarg); break;
		case 'r': status = optarg; break;
		default: return 2;
		}
	}
	if (!bind_s || parse_addr(bind_s, &local) < 0 ||
	    (!listen_mode && (!server_s || parse_addr(server_s, &server) < 0 || optind >= argc))) {
		fprintf(stderr, "usage: sipsend [-T] -b IP:PORT -s IP:PORT [-w MS] FILE\n"
		                "       sipsend -L -b IP:PORT [-w MS] [-r 'CODE REASON']\n");
		return 2;
	}
	int fd = socket(AF_INET, tcp ? SOCK_STREAM : SOCK_DGRAM, 0), one = 1;
	if (fd < 0)
		return 2;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&local, sizeof(local)) < 0) {
		fprintf(stderr, "sipsend: bind %s: %s\n", bind_s, strerror(errno));
		return 2;
	}
	if (listen_mode)
		return phone(fd, wait_ms, status);

	static char msg[1 << 20], wire[2 << 20];
	FILE *f = fopen(argv[optind], "rb");
	size_t n, w = 0, i;
	if (!f)
		return 2;
	n = fread(msg, 1, sizeof(msg), f);
	fclose(f);
	int has_cr = memchr(msg, '\r', n) != NULL;
	for (i = 0; i < n; i++) {
		if (msg[i] == '\n' && !has_cr)
			wire[w++] = '\r';
		wire[w++] = msg[i];
	}
	if (tcp) {
		if (connect(fd, (struct sockaddr *)&server, sizeof(server)) < 0 ||
		    write(fd, wire, w) != (ssize_t)w) {
			fprintf(stderr, "sipsend: tcp %s: %s\n", server_s, strerror(errno));
			return 2;
		}
	} else if (sendto(fd, wire, w, 0, (struct sockaddr *)&server, sizeof(server)) != (ssize_t)w) {
		fprintf(stderr, "sipsend: send: %s\n", strerror(errno));
		return 2;
	}

	long end = now_ms() + wait_ms;
	int replies = 0;
	char buf[65536];
	size_t have = 0;
	for (;;) {
		long left = end - now_ms();
		struct pollfd pfd = { fd, POLLIN, 0 };
		ssize_t r;

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			break;
		r = recv(fd, buf + have, sizeof(buf) - 1 - have, 0);
		if (r <= 0)
			break;
		have += (size_t)r;
		buf[have] = '\0';
		/* one reply per datagram; over TCP, each status line in the stream */
		char *p = buf;
		int final = 0;
		while ((p = strstr(p, "SIP/2.0 "))) {
			if (p == buf || p[-1] == '\n') {
				first_line(p, strlen(p));
				replies++;
				if (p[8] >= '2')
					final = 1;
			}
			p += 8;
		}
		have = 0;
		if (final)
			break;
	}
	return replies ? 0 : 1;
}
