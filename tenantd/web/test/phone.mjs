// A browser softphone for the integration tests: headless Chromium (the
// system's, driven by puppeteer-core) running JsSIP (build/web/sip.js)
// over secure WebSocket to Kamailio, with a fake microphone playing a WAV.
//
//   node tenantd/web/test/phone.mjs PAGE_URL WSS_URL EXT DOMAIN PASSWORD MIC_WAV
//
// PAGE_URL gives the page its origin (tenantd's, which Kamailio's WebSocket
// handshake accepts). It answers incoming calls at once. Commands on stdin,
// one per line: "call SIP_URI", "hangup", "stats", "quit". It prints one
// JSON object per line on stdout: {"ev":"registered"}, {"ev":"incoming",
// "from"}, {"ev":"confirmed"}, {"ev":"ended","cause"}, {"ev":"failed",
// "cause"}, {"ev":"stats","received","sent","level","state"} (inbound
// packets, outbound packets, the inbound audio level 0..1 and the peer
// connection's state), {"ev":"error","message"}.
import puppeteer from 'puppeteer-core';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const [pageUrl, wssUrl, ext, domain, password, mic] = process.argv.slice(2);
if (!mic) {
	console.error('usage: phone.mjs PAGE_URL WSS_URL EXT DOMAIN PASSWORD MIC_WAV');
	process.exit(2);
}
const top = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const bundle = readFileSync(process.env.CC_WEB_SIP || path.join(top, 'build/web/sip.js'), 'utf8');
const say = (o) => process.stdout.write(JSON.stringify(o) + '\n');

const browser = await puppeteer.launch({
	executablePath: execFileSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).trim(),
	headless: true,
	args: [
		'--no-sandbox',                          // tests run as root
		'--ignore-certificate-errors',           // the test stack's self-signed certificates
		'--use-fake-ui-for-media-stream',
		'--use-fake-device-for-media-stream',
		`--use-file-for-fake-audio-capture=${mic}`,
		'--allow-loopback-in-peer-connection',   // rtpengine listens on 127.0.0.1
		'--autoplay-policy=no-user-gesture-required',
	],
});
const quit = async (code) => { await browser.close().catch(() => {}); process.exit(code); };
const page = await browser.newPage();
page.on('console', (m) => { if (process.env.CC_PHONE_DEBUG) console.error('page:', m.text()); });
await page.exposeFunction('ccSay', (o) => say(o));
await page.goto(pageUrl).catch((e) => { say({ ev: 'error', message: `page: ${e.message}` }); });
await page.addScriptTag({ content: bundle });
await page.evaluate((wss, ext, domain, password) => {
	const JsSIP = window.CCSip;
	const ua = new JsSIP.UA({
		sockets: [new JsSIP.WebSocketInterface(wss)],
		uri: `sip:${ext}@${domain}`,
		authorization_user: ext,
		password,
		register: true,
		register_expires: 300,
		session_timers: false,
	});
	const media = { mediaConstraints: { audio: true, video: false } };
	// the far end's audio is played (Chromium computes an inbound
	// track's audioLevel only for a track that plays out)
	const play = (pc) => pc.addEventListener('track', (e) => {
		const a = new Audio();
		a.srcObject = e.streams[0];
		a.play().catch((err) => window.ccSay({ ev: 'error', message: `play: ${err.message}` }));
	});
	const follow = (s) => {
		window.ccSession = s;
		if (s.connection)
			play(s.connection);
		else
			s.on('peerconnection', (e) => play(e.peerconnection));
		s.on('confirmed', () => window.ccSay({ ev: 'confirmed' }));
		s.on('ended', (e) => window.ccSay({ ev: 'ended', cause: e.cause }));
		s.on('failed', (e) => window.ccSay({ ev: 'failed', cause: e.cause }));
	};
	ua.on('registered', () => window.ccSay({ ev: 'registered' }));
	ua.on('registrationFailed', (e) => window.ccSay({ ev: 'error', message: `registration: ${e.cause}` }));
	ua.on('newRTCSession', (e) => {
		if (e.originator !== 'remote')
			return;
		window.ccSay({ ev: 'incoming', from: e.request.from.uri.toString() });
		follow(e.session);
		e.session.answer(media);
	});
	window.ccCall = (uri) => follow(ua.call(uri, media));
	window.ccStats = async () => {
		const s = window.ccSession, pc = s && s.connection;
		const out = { ev: 'stats', received: 0, sent: 0, level: 0, state: pc ? pc.connectionState : 'none' };
		if (pc)
			(await pc.getStats()).forEach((r) => {
				if (r.type === 'inbound-rtp' && r.kind === 'audio') {
					out.received = r.packetsReceived || 0;
					out.level = r.audioLevel || 0;
				}
				if (r.type === 'outbound-rtp' && r.kind === 'audio')
					out.sent = r.packetsSent || 0;
			});
		return out;
	};
	ua.start();
}, wssUrl, ext, domain, password);

for await (const line of createInterface({ input: process.stdin })) {
	const [cmd, arg] = line.trim().split(/\s+/, 2);
	try {
		if (cmd === 'call')
			await page.evaluate((u) => window.ccCall(u), arg);
		else if (cmd === 'hangup')
			await page.evaluate(() => window.ccSession && window.ccSession.terminate());
		else if (cmd === 'stats')
			say(await page.evaluate(() => window.ccStats()));
		else if (cmd === 'quit')
			break;
		else if (cmd)
			say({ ev: 'error', message: `unknown command ${cmd}` });
	} catch (e) {
		say({ ev: 'error', message: e.message });
	}
}
await quit(0);
