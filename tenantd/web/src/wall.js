// The supervisors' wallboard (docs/DESK.md "Wallboard"): a supervisor
// signs in (the desk's sign-in, "as":"supervisor") and sees every queue it
// supervises: the waiting callers, the longest wait, the service level of
// the current half hour and the agents by state, read from routingd's
// live view (GET .../queues/{name}/live) at most once a second; on an agent
// on a call, listen / whisper / barge (the monitor route, as the
// supervisor's own extension). Every text from the server goes in with
// textContent, never as markup.

const T = {
	en: {
		wall_title: 'Wallboard', signin_sup: 'Supervisor sign-in', signin: 'Sign in', tenant: 'Tenant',
		extension: 'Extension', password: 'Password', signout: 'Sign out',
		waiting: 'Waiting', longest: 'Longest wait', sl: 'Service level', sl_half: 'this half hour',
		sl_detail: '{a} of {o} answered in time', agents: 'Agents', callers: 'Waiting callers',
		position: '#', caller: 'Caller', waited: 'Waited', state: 'State', in_state: 'Time in state',
		monitor: 'Monitor', listen: 'Listen', whisper: 'Whisper', barge: 'Barge', stop: 'Stop',
		logged_out: 'logged out', ready: 'ready', not_ready: 'not ready', reserved: 'reserved',
		ringing: 'ringing', on_call: 'on a call', wrapup: 'wrap-up', e_waiting: 'waiting',
		e_ringing: 'ringing', e_callback: 'callback', no_callers: 'No caller waiting',
		no_agents: 'No agent in this queue', no_queues: 'You supervise no queue',
		gone: 'Not available', updated: 'Updated {t}', stale: 'Not updated since {t}',
		wrong: 'Wrong extension or password', not_sup: 'This extension is not a supervisor',
		expired: 'Your session has ended: sign in again', locked: 'Too many attempts: try again later',
		failed: 'Sign-in failed', mon_ringing: 'Your phone rings: {mode} on {ext}',
		mon_mode: 'Now {mode} on {ext}', mon_ended: 'Monitoring of {ext} ended',
		mon_refused: 'Refused ({status}): {message}',
	},
	'zh-CN': {
		wall_title: '班长看板', signin_sup: '班长登录', signin: '登录', tenant: '租户', extension: '分机号',
		password: '密码', signout: '签出', waiting: '排队中', longest: '最长等待', sl: '服务水平',
		sl_half: '本半小时', sl_detail: '{o} 通中 {a} 通及时接听', agents: '坐席', callers: '排队来电',
		position: '序号', caller: '主叫号码', waited: '已等待', state: '状态', in_state: '状态时长',
		monitor: '监听', listen: '监听', whisper: '耳语', barge: '强插', stop: '结束',
		logged_out: '已签出', ready: '就绪', not_ready: '未就绪', reserved: '预留', ringing: '振铃',
		on_call: '通话中', wrapup: '话后处理', e_waiting: '等待中', e_ringing: '振铃中', e_callback: '回呼',
		no_callers: '没有排队来电', no_agents: '此队列没有坐席', no_queues: '您没有负责的队列',
		gone: '不可用', updated: '更新于 {t}', stale: '自 {t} 起未更新',
		wrong: '分机号或密码错误', not_sup: '此分机不是班长', expired: '会话已结束，请重新登录',
		locked: '尝试次数过多，请稍后再试', failed: '登录失败', mon_ringing: '您的话机将振铃：{mode} {ext}',
		mon_mode: '现在：{mode} {ext}', mon_ended: '已结束对 {ext} 的监听', mon_refused: '被拒绝（{status}）：{message}',
	},
};
const STATES = ['on_call', 'ringing', 'reserved', 'ready', 'wrapup', 'not_ready', 'logged_out'];
const MODES = ['listen', 'whisper', 'barge'];
const POLL_MS = 1000;                // at most once a second

const $ = (id) => document.getElementById(id);
let lang = localStorage.getItem('cc.lang') || (navigator.language.startsWith('zh') ? 'zh-CN' : 'en');
const t = (k, vars) => {
	let s = (T[lang] && T[lang][k]) || T.en[k] || k;
	for (const [n, v] of Object.entries(vars || {}))
		s = s.replace(`{${n}}`, String(v));
	return s;
};

// what the tests read (tenantd/web/test/wall.mjs)
const wall = window.ccWall = { polls: 0, queues: {}, monitor: null };
let me = null;                      // {slug, ext, name, csrf, queues}
let timer = null, skew = 0, lastOk = 0;
const views = new Map();            // queue name -> {el, data, sig}
const monitoring = new Map();       // call -> {mode, ext}

function mmss(secs) {
	secs = Math.max(0, Math.round(secs));
	const h = Math.floor(secs / 3600), m = Math.floor((secs % 3600) / 60), s = secs % 60;
	return (h ? `${h}:${String(m).padStart(2, '0')}` : `${m}`) + `:${String(s).padStart(2, '0')}`;
}

function el(tag, cls, text) {
	const e = document.createElement(tag);
	if (cls)
		e.className = cls;
	if (text !== undefined)
		e.textContent = text == null ? '' : String(text);
	return e;
}

async function api(method, path, body) {
	const headers = {};
	if (body !== undefined)
		headers['Content-Type'] = 'application/json';
	if (me && method !== 'GET')
		headers['X-CSRF-Token'] = me.csrf;
	const res = await fetch(`/v1/tenants/${encodeURIComponent(me.slug)}${path}`, {
		method, headers, credentials: 'same-origin', cache: 'no-store',
		body: body === undefined ? undefined : JSON.stringify(body),
	});
	const data = res.status === 204 ? null : await res.json().catch(() => null);
	// the server's clock for the times in state (the view's "since")
	const date = Date.parse(res.headers.get('Date') || '');
	if (!Number.isNaN(date))
		skew = date - Date.now();
	if (res.status === 401 && data && data.error && data.error.code === 'session_expired') {
		signedOut(t('expired'));
		throw new Error('session expired');
	}
	return { status: res.status, data };
}

// ------------------------------------------------------------ sign-in

async function signIn(ev) {
	ev.preventDefault();
	const slug = $('tenant').value.trim(), ext = $('extension').value.trim(), pw = $('password').value;
	$('signin-error').textContent = '';
	const res = await fetch(`/v1/tenants/${encodeURIComponent(slug)}/desk/session`, {
		method: 'POST', headers: { 'Content-Type': 'application/json' }, credentials: 'same-origin',
		body: JSON.stringify({ extension: ext, password: pw, as: 'supervisor' }),
	});
	const data = await res.json().catch(() => null);
	$('password').value = '';
	if (res.status !== 201) {
		$('signin-error').textContent = t(res.status === 401 ? 'wrong' : res.status === 403 ? 'not_sup'
			: res.status === 429 ? 'locked' : 'failed');
		return;
	}
	me = { slug, ext, name: data.agent.name, csrf: data.csrf, queues: data.queues || [] };
	localStorage.setItem('cc.wall.tenant', slug);
	$('signin').hidden = true;
	$('wall').hidden = false;
	$('signout').hidden = false;
	$('who').textContent = `${data.agent.name} (${ext})`;
	build();
	poll();
}

function signedOut(message) {
	clearTimeout(timer);
	timer = null;
	me = null;
	views.clear();
	monitoring.clear();
	wall.queues = {};
	$('queues').replaceChildren();
	$('wall').hidden = true;
	$('signout').hidden = true;
	$('signin').hidden = false;
	$('who').textContent = '';
	$('updated').textContent = '';
	$('monitor-status').textContent = '';
	$('signin-error').textContent = message || '';
}

async function signOut() {
	await api('DELETE', '/desk/session').catch(() => {});
	signedOut('');
}

// ------------------------------------------------------- the queues

function tile(cls, label) {
	const d = el('div', `tile ${cls}`);
	d.append(el('span', 'label', label), el('span', 'value', ''), el('span', 'detail', ''));
	return d;
}

function table(cls, heads) {
	const tb = el('table', cls), tr = el('tr');
	for (const h of heads)
		tr.append(el('th', '', t(h)));
	tb.append(el('thead'), el('tbody'));
	tb.tHead.append(tr);
	return tb;
}

// one card per queue, built once; filled on every poll
function build() {
	const box = $('queues');
	box.replaceChildren();
	views.clear();
	$('no-queues').hidden = me.queues.length > 0;
	for (const name of me.queues) {
		const card = el('section', 'queue');
		card.dataset.queue = name;
		const tiles = el('div', 'tiles');
		tiles.append(tile('waiting', t('waiting')), tile('longest', t('longest')),
		             tile('sl', `${t('sl')} (${t('sl_half')})`), tile('agents-tile', t('agents')));
		tiles.querySelector('.agents-tile .value').replaceWith(el('ul', 'counts value'));
		card.append(el('h2', '', name), tiles, el('h3', '', t('callers')),
		            table('callers', ['position', 'caller', 'waited', 'state']),
		            el('h3', '', t('agents')),
		            table('agents', ['extension', 'state', 'in_state', 'monitor']));
		box.append(card);
		views.set(name, { el: card, data: null, sig: '' });
	}
}

function fill(name) {
	const v = views.get(name);
	const card = v.el, d = v.data;
	const set = (sel, text) => { card.querySelector(sel).textContent = text; };
	card.classList.toggle('gone', !d);
	if (!d) {
		for (const k of ['.waiting', '.longest', '.sl'])
			set(`${k} .value`, '—');
		set('.waiting .detail', t('gone'));
		card.querySelector('.counts').replaceChildren();
		card.querySelector('table.callers').tBodies[0].replaceChildren();
		card.querySelector('table.agents').tBodies[0].replaceChildren();
		v.sig = '';
		wall.queues[name] = { gone: true };
		return;
	}
	const now = Date.now() + skew;
	const waiting = d.waiting || [], c = d.counters || {};
	const agents = (d.agents || []).slice().sort((x, y) => (x.extension < y.extension ? -1 : x.extension > y.extension ? 1 : 0));
	set('.waiting .value', waiting.length);
	set('.waiting .detail', '');
	card.querySelector('.waiting').classList.toggle('alert', waiting.length > 0);
	set('.longest .value', mmss(c.longest_wait_s || 0));
	set('.sl .value', c.offered ? `${Math.round((100 * c.answered_in_sl) / c.offered)}%` : '—');
	set('.sl .detail', c.offered ? t('sl_detail', { a: c.answered_in_sl, o: c.offered }) : '');
	// agents by state
	const counts = {};
	for (const a of agents)
		counts[a.state] = (counts[a.state] || 0) + 1;
	const ul = card.querySelector('.counts');
	ul.replaceChildren();
	for (const s of STATES.concat(Object.keys(counts).filter((k) => !STATES.includes(k))))
		if (counts[s]) {
			const li = el('li', `st-${s}`, `${t(s)} ${counts[s]}`);
			li.dataset.state = s;
			li.dataset.n = counts[s];
			ul.append(li);
		}
	// the waiting callers, in queue order
	const cb = card.querySelector('table.callers').tBodies[0];
	cb.replaceChildren();
	if (!waiting.length) {
		const tr = el('tr'), td = el('td', 'empty', t('no_callers'));
		td.colSpan = 4;
		tr.append(td);
		cb.append(tr);
	}
	for (const w of waiting) {
		const tr = el('tr');
		tr.append(el('td', '', w.position), el('td', '', w.caller), el('td', '', mmss(w.waited_s)),
		          el('td', '', t(`e_${w.state}`)));
		cb.append(tr);
	}
	// the agents: rows rebuilt only when what they hold changes (a click on
	// a button must not land on one replaced meanwhile); times every poll
	const ab = card.querySelector('table.agents').tBodies[0];
	const sig = JSON.stringify(agents.map((a) => [a.extension, a.state, a.reason, a.call || '',
		a.call && monitoring.has(a.call) ? monitoring.get(a.call).mode : '']));
	if (sig !== v.sig) {
		v.sig = sig;
		ab.replaceChildren();
		if (!agents.length) {
			const tr = el('tr'), td = el('td', 'empty', t('no_agents'));
			td.colSpan = 4;
			tr.append(td);
			ab.append(tr);
		}
		for (const a of agents) {
			const tr = el('tr');
			tr.dataset.ext = a.extension;
			const st = el('td', `st-${a.state}`, t(a.state) + (a.reason ? ` (${a.reason})` : ''));
			st.dataset.state = a.state;
			const mon = el('td', 'monitor');
			if (a.state === 'on_call' && a.call) {
				const cur = monitoring.get(a.call);
				for (const m of MODES) {
					const b = el('button', cur && cur.mode === m ? 'active' : '', t(m));
					b.dataset.mode = m;
					b.addEventListener('click', () => doMonitor(a.call, a.extension, m));
					mon.append(b);
				}
				if (cur) {
					const b = el('button', 'stop', t('stop'));
					b.dataset.mode = 'stop';
					b.addEventListener('click', () => endMonitor(a.call, a.extension));
					mon.append(b);
				}
			}
			tr.append(el('td', '', a.extension), st, el('td', 'since', ''), mon);
			ab.append(tr);
		}
	}
	const byExt = new Map(agents.map((a) => [a.extension, a]));
	for (const tr of ab.rows) {
		const a = byExt.get(tr.dataset.ext);
		if (a)
			tr.querySelector('.since').textContent = mmss((now - Date.parse(a.since)) / 1000);
	}
	wall.queues[name] = {
		waiting: waiting.length, longest: c.longest_wait_s || 0, offered: c.offered || 0,
		answered_in_sl: c.answered_in_sl || 0, counts,
		agents: agents.map((a) => ({ extension: a.extension, state: a.state, call: a.call || '' })),
	};
}

function showUpdated() {
	if (!lastOk)
		return;
	const at = new Date(lastOk).toLocaleTimeString(lang);
	$('updated').textContent = t(Date.now() - lastOk > 5000 ? 'stale' : 'updated', { t: at });
}

async function poll() {
	timer = null;
	if (!me)
		return;
	const started = Date.now();
	const mine = me;
	const answers = await Promise.all(me.queues.map((q) =>
		api('GET', `/queues/${encodeURIComponent(q)}/live`).catch(() => null)));
	if (me !== mine)
		return;                      // signed out meanwhile
	let ok = 0;
	me.queues.forEach((q, i) => {
		const a = answers[i];
		if (!a)
			return;                  // the network: keep what is shown
		if (a.status === 200)
			ok++;
		// 404: no longer this supervisor's queue (or gone); 5xx: keep the last
		if (a.status === 200 || a.status === 404) {
			views.get(q).data = a.status === 200 ? a.data : null;
			fill(q);
		}
	});
	if (ok || !me.queues.length)
		lastOk = Date.now();
	// a monitored call no agent is on any more is over
	const calls = new Set();
	for (const v of views.values())
		for (const a of (v.data && v.data.agents) || [])
			if (a.call)
				calls.add(a.call);
	for (const c of [...monitoring.keys()])
		if (!calls.has(c))
			monitoring.delete(c);
	wall.polls++;
	showUpdated();
	timer = setTimeout(poll, Math.max(0, POLL_MS - (Date.now() - started)));
}

// ------------------------------------------------------- monitoring

function monitorSaid(key, vars) {
	$('monitor-status').textContent = t(key, vars);
}

async function doMonitor(call, ext, mode) {
	const cur = monitoring.get(call);
	const { status, data } = await api(cur ? 'PATCH' : 'POST', `/calls/${encodeURIComponent(call)}/monitor`,
		{ supervisor: me.ext, mode });
	wall.monitor = { call, mode, status };
	if (status === 200) {
		monitoring.set(call, { mode, ext });
		monitorSaid(cur ? 'mon_mode' : 'mon_ringing', { mode: t(mode), ext });
	} else {
		monitorSaid('mon_refused', { status, message: (data && data.error && data.error.message) || '' });
	}
	for (const name of views.keys()) {
		views.get(name).sig = '';
		if (views.get(name).data)
			fill(name);
	}
}

async function endMonitor(call, ext) {
	const { status, data } = await api('DELETE',
		`/calls/${encodeURIComponent(call)}/monitor?supervisor=${encodeURIComponent(me.ext)}`);
	wall.monitor = { call, mode: 'stop', status };
	monitoring.delete(call);
	if (status === 200 || status === 204 || status === 404)
		monitorSaid('mon_ended', { ext });
	else
		monitorSaid('mon_refused', { status, message: (data && data.error && data.error.message) || '' });
	for (const name of views.keys()) {
		views.get(name).sig = '';
		if (views.get(name).data)
			fill(name);
	}
}

// ------------------------------------------------------------ wiring

function translate() {
	document.documentElement.lang = lang;
	$('lang').value = lang;
	document.title = t('wall_title');
	document.querySelectorAll('[data-t]').forEach((e) => { e.textContent = t(e.dataset.t); });
	if (me) {
		// the cards keep their data: rebuilt in the new language
		const kept = new Map([...views].map(([k, v]) => [k, v.data]));
		build();
		for (const [k, d] of kept)
			if (views.has(k) && d) {
				views.get(k).data = d;
				fill(k);
			}
	}
	showUpdated();
}

document.addEventListener('DOMContentLoaded', () => {
	$('tenant').value = localStorage.getItem('cc.wall.tenant') || '';
	translate();
	$('lang').addEventListener('change', () => {
		lang = $('lang').value;
		localStorage.setItem('cc.lang', lang);
		translate();
	});
	$('signin').addEventListener('submit', (ev) => signIn(ev).catch((e) => {
		$('signin-error').textContent = `${t('failed')}: ${e.message}`;
	}));
	$('signout').addEventListener('click', () => signOut());
});
