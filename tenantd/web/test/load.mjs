// The desktop's page load, for the benchmark (ops/bench/desk.sh): headless
// Chromium (puppeteer-core) loads URL N times, each in a fresh browser
// context (no cache, no cookies: an agent's first load of a shift), and
// the same for REF_URL (a tiny file of the same server: the floor of TLS,
// HTTP and the browser's own work).
//
//   node tenantd/web/test/load.mjs URL REF_URL N
//
// Prints one JSON line: {"page":{"bytes","requests","ms":[...]},"ref":{...}}
// bytes: what crossed the wire (encoded, headers included) for the page
// and everything it loads until the load event; ms: navigation start to
// the load event (performance.getEntriesByType('navigation')).
import puppeteer from 'puppeteer-core';
import { execFileSync } from 'node:child_process';

const [url, ref, n] = process.argv.slice(2);
if (!n) {
	console.error('usage: load.mjs URL REF_URL N');
	process.exit(2);
}
const browser = await puppeteer.launch({
	executablePath: execFileSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).trim(),
	headless: true,
	args: ['--no-sandbox', '--ignore-certificate-errors'],
});

async function once(target) {
	const ctx = await browser.createBrowserContext();
	const page = await ctx.newPage();
	const cdp = await page.createCDPSession();
	let bytes = 0, requests = 0;
	await cdp.send('Network.enable');
	await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
	cdp.on('Network.loadingFinished', (e) => { bytes += e.encodedDataLength; requests++; });
	await page.goto(target, { waitUntil: 'load' });
	const ms = await page.evaluate(() => {
		const nav = performance.getEntriesByType('navigation')[0];
		return nav.loadEventEnd > 0 ? nav.loadEventEnd - nav.startTime : nav.duration;
	});
	await ctx.close();
	return { bytes, requests, ms };
}

const out = { page: { ms: [] }, ref: { ms: [] } };
for (let i = 0; i < Number(n); i++) {
	for (const [k, target] of [['page', url], ['ref', ref]]) {
		const r = await once(target);
		out[k].ms.push(Math.round(r.ms * 10) / 10);
		out[k].bytes = r.bytes;
		out[k].requests = r.requests;
	}
}
console.log(JSON.stringify(out));
await browser.close();
