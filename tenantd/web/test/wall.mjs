// The supervisors' wallboard as a supervisor uses it, for the integration
// tests: headless Chromium (puppeteer-core) on tenantd's /desk/wall.
//
//   node tenantd/web/test/wall.mjs WALL_URL
//
// Commands on stdin, one per line; one JSON object per line on stdout,
// after a first {"ev":"ready"} once the page has loaded:
//   signin SLUG EXT PASSWORD  -> {"ev":"signin","error"}   (error "" once the board shows)
//   page                      -> {"ev":"page","title","lang","signin_visible","signin_error",
//                                 "polls","status","monitor","queues":[{"name","waiting","longest",
//                                 "sl","sl_detail","gone","counts":{state:n},"callers":[[..]],
//                                 "agents":[{"ext","state","label","since","buttons":[mode]}]}]}
//                                (what the page shows, read from its DOM)
//   monitor EXT MODE          -> {"ev":"monitor","monitor","status"}  (clicks the agent's button,
//                                 waits for the answer, 10 s)
//   lang zh-CN|en             -> {"ev":"lang"}
//   shot FILE                 -> {"ev":"shot","file"}
//   quit
// Errors: {"ev":"error","message"}.
import puppeteer from 'puppeteer-core';
import { execFileSync } from 'node:child_process';
import { createInterface } from 'node:readline';

const [url] = process.argv.slice(2);
if (!url) {
	console.error('usage: wall.mjs WALL_URL');
	process.exit(2);
}
const say = (o) => process.stdout.write(JSON.stringify({ ...o, t: Date.now() }) + '\n');
const browser = await puppeteer.launch({
	executablePath: execFileSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).trim(),
	headless: true,
	args: ['--no-sandbox', '--ignore-certificate-errors'],
});
const page = await browser.newPage();
await page.setViewport({ width: 1280, height: 900 });
page.on('console', (m) => console.error('page:', m.text()));
page.on('pageerror', (e) => say({ ev: 'error', message: `page: ${e.message}` }));
// a CSP refusal is a bug of the page: say it
page.on('requestfailed', (r) => console.error('request failed:', r.url(), r.failure() && r.failure().errorText));
// a Chinese supervisor's browser (headless Chromium says en-US whatever --lang)
await page.evaluateOnNewDocument(() => {
	Object.defineProperty(navigator, 'language', { get: () => 'zh-CN' });
	Object.defineProperty(navigator, 'languages', { get: () => ['zh-CN', 'zh'] });
});
await page.goto(url, { waitUntil: 'load' });
say({ ev: 'ready' });   // the first line: Chromium's first start on a new machine is slow

const until = async (fn, ms, arg) => {
	for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 100)))
		if (await page.evaluate(fn, arg).catch(() => false))
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
			await until(() => (!document.getElementById('wall').hidden && window.ccWall.polls > 0) ||
			            document.getElementById('signin-error').textContent !== '', 10000);
			say({ ev: 'signin', error: await page.$eval('#signin-error', (el) => el.textContent) });
		} else if (cmd === 'page') {
			say(await page.evaluate(() => {
				const txt = (root, sel) => { const e = root.querySelector(sel); return e ? e.textContent : ''; };
				return {
					ev: 'page', title: document.querySelector('h1').textContent,
					lang: document.documentElement.lang,
					signin_visible: !document.getElementById('signin').hidden,
					signin_error: document.getElementById('signin-error').textContent,
					polls: window.ccWall.polls, monitor: window.ccWall.monitor,
					status: document.getElementById('monitor-status').textContent,
					queues: [...document.querySelectorAll('#queues .queue')].map((q) => ({
						name: q.dataset.queue, gone: q.classList.contains('gone'),
						waiting: txt(q, '.waiting .value'), longest: txt(q, '.longest .value'),
						sl: txt(q, '.sl .value'), sl_detail: txt(q, '.sl .detail'),
						counts: Object.fromEntries([...q.querySelectorAll('.counts li')]
							.map((li) => [li.dataset.state, Number(li.dataset.n)])),
						count_labels: [...q.querySelectorAll('.counts li')].map((li) => li.textContent),
						callers: [...q.querySelectorAll('table.callers tbody tr')]
							.filter((tr) => !tr.querySelector('.empty'))
							.map((tr) => [...tr.cells].map((c) => c.textContent)),
						agents: [...q.querySelectorAll('table.agents tbody tr')]
							.filter((tr) => tr.dataset.ext)
							.map((tr) => ({
								ext: tr.dataset.ext, state: tr.cells[1].dataset.state,
								label: tr.cells[1].textContent, since: tr.cells[2].textContent,
								buttons: [...tr.querySelectorAll('button')].map((b) => b.dataset.mode),
								labels: [...tr.querySelectorAll('button')].map((b) => b.textContent),
							})),
					})),
				};
			}));
		} else if (cmd === 'monitor') {
			const before = await page.evaluate(() => JSON.stringify(window.ccWall.monitor));
			const clicked = await page.evaluate((ext, mode) => {
				const b = document.querySelector(`table.agents tr[data-ext="${ext}"] button[data-mode="${mode}"]`);
				if (b)
					b.click();
				return !!b;
			}, args[0], args[1]);
			if (clicked)
				await until((b) => JSON.stringify(window.ccWall.monitor) !== b, 10000, before);
			say({ ev: 'monitor', clicked, monitor: await page.evaluate(() => window.ccWall.monitor),
			      status: await page.$eval('#monitor-status', (el) => el.textContent) });
		} else if (cmd === 'lang') {
			await page.select('#lang', args[0]);
			say({ ev: 'lang' });
		} else if (cmd === 'shot') {
			await page.screenshot({ path: args[0], fullPage: true });
			say({ ev: 'shot', file: args[0] });
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
