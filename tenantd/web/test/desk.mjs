// The agent desktop as an agent uses it, for the integration tests:
// headless Chromium (puppeteer-core) on tenantd's /desk/, with a fake
// microphone playing a WAV.
//
//   node tenantd/web/test/desk.mjs DESK_URL MIC_WAV
//
// Commands on stdin, one per line; one JSON object per line on stdout,
// after a first {"ev":"ready"} once the page has loaded:
//   signin SLUG EXT PASSWORD  -> {"ev":"signin","error"}      (error "" when signed in)
//   click ID                  -> {"ev":"click","id"}          (a button of the page)
//   clicksel CSS N            -> {"ev":"click","id"}          (the Nth element matching CSS)
//   fill ID TEXT...           -> {"ev":"fill","id"}           (an input's value, as typed)
//   wait_sip                  -> {"ev":"sip","sip"}           (once the phone is online, 20 s)
//   wait_call                 -> {"ev":"call","from"}         (once a call rings or is up, 20 s)
//   page                      -> {"ev":"page","state","sip","call","customer","picker","calls",
//                                 "popMs","xss","signin_visible","lang","callId","callKey",
//                                 "wrap","wrapLeft","queues","code","xfer","dials"}
//   pick N                    -> {"ev":"pick"}                (the picker's Nth customer)
//   lang zh-CN|en             -> {"ev":"lang"}
//   shot FILE                 -> {"ev":"shot","file"}         (a PNG of the page)
//   stats                     -> {"ev":"stats","received","level","state"}
//   crash                     -> (nothing: the browser is killed, as a closed laptop)
//   quit
// Errors: {"ev":"error","message"}.
import puppeteer from 'puppeteer-core';
import { execFileSync } from 'node:child_process';
import { createInterface } from 'node:readline';

const [url, mic] = process.argv.slice(2);
if (!mic) {
	console.error('usage: desk.mjs DESK_URL MIC_WAV');
	process.exit(2);
}
const say = (o) => process.stdout.write(JSON.stringify({ ...o, t: Date.now() }) + '\n');
const browser = await puppeteer.launch({
	executablePath: execFileSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).trim(),
	headless: true,
	args: ['--no-sandbox', '--ignore-certificate-errors', '--use-fake-ui-for-media-stream',
	       '--use-fake-device-for-media-stream', `--use-file-for-fake-audio-capture=${mic}`,
	       '--allow-loopback-in-peer-connection', '--autoplay-policy=no-user-gesture-required'],
});
const page = await browser.newPage();
await page.setViewport({ width: 1100, height: 800 });
page.on('console', (m) => console.error('page:', m.text()));
page.on('pageerror', (e) => say({ ev: 'error', message: `page: ${e.message}` }));
// a script a customer's field smuggles in would set this
await page.evaluateOnNewDocument(() => { window.__xss = 0; });
// a Chinese agent's browser (headless Chromium says en-US whatever --lang)
await page.evaluateOnNewDocument(() => {
	Object.defineProperty(navigator, 'language', { get: () => 'zh-CN' });
	Object.defineProperty(navigator, 'languages', { get: () => ['zh-CN', 'zh'] });
});
await page.goto(url, { waitUntil: 'load' });
say({ ev: 'ready' });   // the first line: Chromium's first start on a new machine is slow

const text = (sel) => page.$eval(sel, (el) => el.textContent).catch(() => '');
const until = async (fn, ms) => {
	for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 100)))
		if (await page.evaluate(fn).catch(() => false))
			return true;
	return false;
};

for await (const line of createInterface({ input: process.stdin })) {
	const [cmd, ...args] = line.trim().split(/\s+/);
	try {
		if (cmd === 'signin') {
			await page.$eval('#tenant', (el, v) => { el.value = v; }, args[0]);
			await page.$eval('#extension', (el, v) => { el.value = v; }, args[1]);
			await page.$eval('#password', (el, v) => { el.value = v; }, args[2]);
			await page.$eval('#signin-go', (el) => el.click());
			await until(() => !document.getElementById('desk').hidden ||
			            document.getElementById('signin-error').textContent !== '', 10000);
			say({ ev: 'signin', error: await text('#signin-error') });
		} else if (cmd === 'click') {
			// as a user's click, without puppeteer's geometry checks
			await page.$eval(`#${args[0]}`, (el) => el.click());
			say({ ev: 'click', id: args[0] });
		} else if (cmd === 'clicksel') {
			await page.$$eval(args[0], (els, n) => els[n].click(), Number(args[1] || 0));
			say({ ev: 'click', id: args[0] });
		} else if (cmd === 'fill') {
			await page.$eval(`#${args[0]}`, (el, v) => {
				el.value = v;
				el.dispatchEvent(new Event('input', { bubbles: true }));
			}, args.slice(1).join(' '));
			say({ ev: 'fill', id: args[0] });
		} else if (cmd === 'crash') {
			browser.process().kill('SIGKILL');
			process.exit(0);
		} else if (cmd === 'wait_sip') {
			await until(() => window.ccDesk.sip === 'on', 20000);
			say({ ev: 'sip', sip: await page.evaluate(() => window.ccDesk.sip) });
		} else if (cmd === 'wait_call') {
			await until(() => !document.getElementById('call').hidden, 20000);
			say({ ev: 'call', from: await text('#call-from') });
		} else if (cmd === 'page') {
			say(await page.evaluate(() => ({
				ev: 'page', state: window.ccDesk.state, sip: window.ccDesk.sip,
				call: document.getElementById('call').hidden ? '' : document.getElementById('call-state').textContent,
				customer: document.getElementById('customer').textContent,
				picker: [...document.querySelectorAll('#picker .pick')].map((b) => b.textContent),
				calls: document.getElementById('calls').tBodies[0].rows.length,
				popMs: window.ccDesk.popMs, xss: window.__xss, ended: window.ccDesk.ended || '',
				error: window.ccDesk.error || '',
				signin_visible: !document.getElementById('signin').hidden,
				signin_error: document.getElementById('signin-error').textContent,
				lang: document.documentElement.lang, title: document.querySelector('h1').textContent,
				callId: window.ccDesk.call || '', callKey: window.ccDesk.callKey || '',
				wrap: !document.getElementById('wrap').hidden,
				wrapLeft: document.getElementById('wrap-left').textContent,
				queues: document.getElementById('queues').textContent,
				code: document.getElementById('disp-code').value,
				disp: document.getElementById('disp-error').textContent,
				xfer: document.getElementById('xfer-status').textContent,
				sipHistory: window.ccDesk.sipHistory,
				ivr: document.getElementById('ivr').textContent,
				dials: [...document.querySelectorAll('#customer .dial')].map((b) => b.textContent),
			})));
		} else if (cmd === 'pick') {
			await page.$$eval('#picker .pick', (bs, n) => bs[n].click(), Number(args[0]));
			say({ ev: 'pick' });
		} else if (cmd === 'lang') {
			await page.select('#lang', args[0]);
			say({ ev: 'lang' });
		} else if (cmd === 'shot') {
			await page.screenshot({ path: args[0], fullPage: true });
			say({ ev: 'shot', file: args[0] });
		} else if (cmd === 'stats') {
			say(await page.evaluate(async () => {
				const out = { ev: 'stats', received: 0, level: 0, state: 'none' };
				const pcs = window.ccDesk.pc ? [window.ccDesk.pc] : [];
				for (const pc of pcs) {
					out.state = pc.connectionState;
					(await pc.getStats()).forEach((r) => {
						if (r.type === 'inbound-rtp' && r.kind === 'audio') {
							out.received = r.packetsReceived || 0;
							out.level = r.audioLevel || 0;
						}
					});
				}
				return out;
			}));
		} else if (cmd === 'quit') {
			break;
		} else if (cmd) {
			say({ ev: 'error', message: `unknown command ${cmd}` });
		}
	} catch (e) {
		say({ ev: 'error', message: e.message });
	}
}
await browser.close().catch(() => {});
process.exit(0);
