// The agent desktop (docs/DESK.md): sign-in, the agent's state, the
// browser softphone (JsSIP over the platform's secure WebSocket) and the
// screen pop. Every text from the server is shown with textContent: a
// customer's field never becomes markup.
import JsSIP from 'jssip';

const T = {
	en: {
		title: 'Agent desktop', signin: 'Sign in', tenant: 'Tenant', extension: 'Extension',
		password: 'Password', state: 'State', ready: 'Ready', not_ready: 'Not ready',
		auto_answer: 'Auto answer', signout: 'Sign out', answer: 'Answer', mute: 'Mute',
		unmute: 'Unmute', hangup: 'Hang up', customer: 'Customer', last_calls: 'Last calls',
		date: 'Date', direction: 'Direction', agent: 'Agent', duration: 'Duration',
		disposition: 'Disposition', sip_on: 'Phone online', sip_off: 'Phone offline',
		sip_reconnecting: 'Reconnecting…', ringing: 'Ringing', in_call: 'In call',
		no_customer: 'No customer with this number', pick: 'Several customers share this number:',
		wrong: 'Wrong extension or password', expired: 'Your session has ended: sign in again',
		locked: 'Too many attempts: try again later', failed: 'Sign-in failed',
		inbound: 'in', outbound: 'out', internal: 'internal', tier: 'Tier', name: 'Name',
		phones: 'Phones',
		logged_out: 'logged out', reserved: 'reserved', on_call: 'on a call', wrapup: 'wrap-up',
		ringing_state: 'ringing',
		hold: 'Hold', unhold: 'Resume', on_hold: 'On hold', transfer_to: 'Transfer to',
		blind: 'Transfer', consult: 'Consult', complete: 'Complete transfer', cancel: 'Back to caller',
		consulting: 'Consulting…', xfer_failed: 'Transfer refused', not_acd: 'Only a queue call can be held or transferred here',
		dial_to: 'Number', dial: 'Call', calling: 'Calling', call_customer: 'Call',
		wrapup_title: 'After the call', wrapup_left: 'left', code: 'Disposition', note: 'Note',
		follow_up: 'Follow-up date', save: 'Save and go ready', saved: 'Saved', save_failed: 'Not saved',
		queues: 'Queues', waiting: 'waiting', ivr: 'Keyed in the menu',
	},
	'zh-CN': {
		title: '坐席工作台', signin: '登录', tenant: '租户', extension: '分机号', password: '密码',
		state: '状态', ready: '就绪', not_ready: '未就绪', auto_answer: '自动应答', signout: '签出',
		answer: '接听', mute: '静音', unmute: '取消静音', hangup: '挂断', customer: '客户资料',
		last_calls: '最近通话', date: '日期', direction: '方向', agent: '坐席', duration: '时长',
		disposition: '处理结果', sip_on: '话机在线', sip_off: '话机离线', sip_reconnecting: '正在重连…',
		ringing: '来电振铃', in_call: '通话中', no_customer: '没有此号码的客户',
		pick: '多位客户使用此号码：', wrong: '分机号或密码错误', expired: '会话已结束，请重新登录',
		locked: '尝试次数过多，请稍后再试', failed: '登录失败', inbound: '呼入', outbound: '呼出',
		internal: '内部', tier: '等级', name: '姓名', phones: '电话',
		logged_out: '已签出', reserved: '预留', on_call: '通话中', wrapup: '话后处理', ringing_state: '振铃',
		hold: '保持', unhold: '恢复', on_hold: '保持中', transfer_to: '转接至', blind: '转接', consult: '咨询',
		complete: '完成转接', cancel: '回到来电', consulting: '正在咨询…', xfer_failed: '转接被拒绝',
		not_acd: '只有队列来电可在此保持或转接', dial_to: '号码', dial: '呼叫', calling: '正在呼叫',
		call_customer: '呼叫', wrapup_title: '话后处理', wrapup_left: '剩余', code: '处理结果', note: '备注',
		follow_up: '回访日期', save: '保存并就绪', saved: '已保存', save_failed: '未保存',
		queues: '队列', waiting: '等待', ivr: '语音菜单输入',
	},
};
const $ = (id) => document.getElementById(id);
let lang = localStorage.getItem('cc.lang') || (navigator.language.startsWith('zh') ? 'zh-CN' : 'en');
const t = (k) => (T[lang] && T[lang][k]) || T.en[k] || k;

// what the tests read (tenantd/web/test/desk.mjs)
const desk = window.ccDesk = { popMs: [], state: '', sip: 'off', sipHistory: [], customers: [] };
let me = null;                      // {slug, ext, name, csrf, password, domain}
let ua = null, session = null, stateTimer = null, callTimer = null;

function translate() {
	document.documentElement.lang = lang;
	$('lang').value = lang;
	document.querySelectorAll('[data-t]').forEach((el) => { el.textContent = t(el.dataset.t); });
	showSip(desk.sip);
	if (desk.callKey)
		$('call-state').textContent = t(desk.callKey);
	if (desk.state)
		$('state').textContent = stateName(desk.state);
}

function stateName(s) {
	return t(s === 'ringing' ? 'ringing_state' : s);
}

async function api(method, path, body) {
	const headers = {};
	if (body !== undefined)
		headers['Content-Type'] = 'application/json';
	if (me && method !== 'GET')
		headers['X-CSRF-Token'] = me.csrf;
	const res = await fetch(`/v1/tenants/${encodeURIComponent(me.slug)}${path}`, {
		method, headers, credentials: 'same-origin',
		body: body === undefined ? undefined : JSON.stringify(body),
	});
	const data = res.status === 204 ? null : await res.json().catch(() => null);
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
		body: JSON.stringify({ extension: ext, password: pw }),
	});
	const data = await res.json().catch(() => null);
	if (res.status !== 201) {
		$('signin-error').textContent = t(res.status === 401 ? 'wrong' : res.status === 429 ? 'locked' : 'failed');
		return;
	}
	me = { slug, ext, name: data.agent.name, csrf: data.csrf, password: pw, domain: data.sip_domain };
	$('password').value = '';
	$('signin').hidden = true;
	$('desk').hidden = false;
	$('who').textContent = `${data.agent.name} (${ext})`;
	await loadReasons();
	await pollState();
	stateTimer = setInterval(() => pollState().catch(() => {}), 2000);
	const cfg = await (await fetch('/desk/config.json')).json();
	startPhone(cfg.wss);
}

function signedOut(message) {
	clearInterval(stateTimer);
	// a session that ends during a call does not end the call: the phone
	// stops once the call is over (a new sign-in starts its own)
	const old = ua;
	if (old && session && !session.isEnded()) {
		session.on('ended', () => old.stop());
		session.on('failed', () => old.stop());
	} else if (old) {
		old.stop();
	}
	ua = null;
	me = null;
	$('desk').hidden = true;
	$('signin').hidden = false;
	$('signin-error').textContent = message || '';
	desk.state = '';
}

async function signOut() {
	await api('PUT', `/agents/${me.ext}/state`, { state: 'logged_out' }).catch(() => {});
	await api('DELETE', '/desk/session').catch(() => {});
	signedOut('');
}

// --------------------------------------------------------- the state

async function loadReasons() {
	const { status, data } = await api('GET', '/pause_reasons');
	const sel = $('reason');
	sel.replaceChildren();
	for (const r of status === 200 ? data.items : []) {
		const o = document.createElement('option');
		o.value = r.code;
		o.textContent = r.label;
		sel.append(o);
	}
}

async function pollState() {
	if (!me)
		return;
	const { status, data } = await api('GET', `/agents/${me.ext}/state`);
	if (status !== 200)
		return;
	desk.state = data.state;
	desk.until = data.until || '';
	$('state').textContent = stateName(data.state) + (data.reason ? ` (${data.reason})` : '');
	$('since').textContent = clock((Date.now() - Date.parse(data.since)) / 1000);
	showQueues(data.queues || [], data.waiting || {});
	showWrapup(data.state === 'wrapup' ? data.call || '' : '');
}

function clock(secs) {
	secs = Math.max(0, Math.round(secs));
	return `${Math.floor(secs / 60)}:${String(secs % 60).padStart(2, '0')}`;
}

// the queues the agent serves, with how many callers wait in each
function showQueues(queues, waiting) {
	const el = $('queues');
	el.replaceChildren();
	desk.waiting = waiting;
	for (const q of queues) {
		const s = document.createElement('span');
		s.className = 'queue';
		s.textContent = `${q}: ${waiting[q] ?? 0} ${t('waiting')}`;
		el.append(s);
	}
}

// ------------------------------------------------------- the wrap-up

let codesLoaded = false;

async function loadCodes() {
	const { status, data } = await api('GET', '/disposition_codes');
	const sel = $('disp-code');
	sel.replaceChildren();
	for (const c of status === 200 ? data.items : []) {
		const o = document.createElement('option');
		o.value = c.code;
		o.textContent = c.label;
		sel.append(o);
	}
	codesLoaded = status === 200;
}

// the form of the call in wrap-up (call ""), with the time left of the queue's wrap-up
function showWrapup(call) {
	const w = $('wrap');
	if (!call) {
		w.hidden = true;
		desk.wrapCall = '';
		return;
	}
	if (desk.wrapCall !== call) {
		desk.wrapCall = call;
		$('disp-note').value = '';
		$('disp-follow').value = '';
		$('disp-error').textContent = '';
		if (!codesLoaded)
			loadCodes().catch(() => {});
	}
	w.hidden = false;
	$('wrap-left').textContent = desk.until ?
		`${clock((Date.parse(desk.until) - Date.now()) / 1000)} ${t('wrapup_left')}` : '';
}

async function saveDisposition() {
	const call = desk.wrapCall;
	if (!call)
		return;
	const body = { code: $('disp-code').value };
	if ($('disp-note').value.trim())
		body.note = $('disp-note').value.trim();
	if ($('disp-follow').value)
		body.follow_up = $('disp-follow').value;
	const { status, data } = await api('POST', `/calls/${call}/disposition`, body);
	if (status !== 202) {
		$('disp-error').textContent = `${t('save_failed')}: ${(data && data.error && data.error.message) || status}`;
		return;
	}
	desk.disposed = call;
	$('disp-error').textContent = t('saved');
	await setState('ready');
}

async function setState(state, reason) {
	const body = reason ? { state, reason } : { state };
	const { status } = await api('PUT', `/agents/${me.ext}/state`, body);
	if (status === 200)
		await pollState();
}

// ------------------------------------------------------- the phone

function showSip(s) {
	if (s !== desk.sip)
		desk.sipHistory.push(s);
	desk.sip = s;
	const b = $('sip');
	b.textContent = t(s === 'on' ? 'sip_on' : s === 'reconnecting' ? 'sip_reconnecting' : 'sip_off');
	b.classList.toggle('on', s === 'on');
}

function startPhone(wss) {
	const socket = new JsSIP.WebSocketInterface(wss);
	ua = new JsSIP.UA({
		sockets: [socket], uri: `sip:${me.ext}@${me.domain}`,
		authorization_user: me.ext, password: me.password, register: true, register_expires: 300,
		session_timers: false, connection_recovery_min_interval: 2, connection_recovery_max_interval: 10,
	});
	ua.on('registered', () => showSip('on'));
	ua.on('unregistered', () => showSip('off'));
	ua.on('registrationFailed', () => showSip('off'));
	ua.on('disconnected', () => showSip('reconnecting'));
	ua.on('newRTCSession', (e) => { if (e.originator === 'remote') incoming(e.session, e.request); });
	ua.start();
}

function play(pc) {
	desk.pc = pc;
	pc.addEventListener('track', (e) => {
		const a = new Audio();
		a.srcObject = e.streams[0];
		a.play().catch(() => {});
	});
}

function incoming(s, request) {
	const t0 = performance.now();
	if (session) {
		s.terminate({ status_code: 486 });
		return;
	}
	const from = request.from.uri.user;
	attach(s, from, 'ringing');
	$('answer').hidden = false;
	// a queue call from mediad names the caller's call (hold, transfer and
	// the disposition use it) and what the IVR collected (Kamailio checked both)
	const xcall = request.getHeader('X-CC-Call') || '';
	if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(xcall))
		desk.call = xcall;
	desk.vars = Object.create(null);
	for (const kv of (request.getHeader('X-CC-Vars') || '').split(';')) {
		const i = kv.indexOf('=');
		if (i > 0)
			desk.vars[kv.slice(0, i)] = kv.slice(i + 1);
	}
	pop(from, t0);
	if ($('autoanswer').checked)
		answer();
}

// click-to-call and the pad: the platform puts the tenant's caller ID on it
function dial(number) {
	number = String(number || '').replace(/[\s-]/g, '');
	if (!ua || session || !/^(\+[1-9][0-9]{6,14}|[0-9]{2,15})$/.test(number))
		return;
	const s = ua.call(`sip:${number}@${me.domain}`, { mediaConstraints: { audio: true, video: false } });
	attach(s, number, 'calling');
	$('answer').hidden = true;
}

// one call on the page, ringing in or going out
function attach(s, who, key) {
	session = s;
	desk.held = false;
	$('call').hidden = false;
	desk.callKey = key;
	$('call-state').textContent = t(key);
	$('call-from').textContent = who;
	$('call-timer').textContent = '';
	desk.call = '';                  // a queue call's id comes with its INVITE (incoming)
	$('hold').textContent = t('hold');
	$('xfer-status').textContent = '';
	consultShown(false);
	if (s.connection)
		play(s.connection);
	else
		s.on('peerconnection', (ev) => play(ev.peerconnection));
	s.on('confirmed', () => {
		desk.callKey = 'in_call';
		$('call-state').textContent = t('in_call');
		$('answer').hidden = true;
		const start = Date.now();
		callTimer = setInterval(() => { $('call-timer').textContent = clock((Date.now() - start) / 1000); }, 1000);
		pollState().catch(() => {});
	});
	const ended = (e) => {
		desk.ended = e && e.cause;
		desk.callKey = '';
		desk.call = '';
		clearInterval(callTimer);
		session = null;
		$('call').hidden = true;
		pollState().catch(() => {});
	};
	s.on('ended', ended);
	s.on('failed', ended);
}

// ------------------------------------------------- hold and transfer
// A queue call is the ACD's (mediad holds the caller with music and
// counts the hold in the record); a call of the agent's own goes on hold
// with a re-INVITE.

async function hold() {
	if (!session || !session.isEstablished())
		return;
	const want = !desk.held;
	if (desk.call) {
		const { status } = await api('POST', `/calls/${desk.call}/${want ? 'hold' : 'unhold'}`, {});
		if (status >= 300) {
			$('xfer-status').textContent = `${t('xfer_failed')} (${status})`;
			return;
		}
	} else if (want) {
		session.hold();
	} else {
		session.unhold();
	}
	desk.held = want;
	$('hold').textContent = t(want ? 'unhold' : 'hold');
	desk.callKey = want ? 'on_hold' : 'in_call';
	$('call-state').textContent = t(desk.callKey);
}

function target(to) {
	to = to.trim();
	if (/^\+[1-9][0-9]{6,14}$/.test(to))
		return { type: 'number', name: to };
	if (/^[0-9]{1,8}$/.test(to))
		return { type: 'agent', name: to };
	return { type: 'queue', name: to };
}

function consultShown(on) {
	$('xfer-complete').hidden = !on;
	$('xfer-cancel').hidden = !on;
	$('xfer-blind').hidden = on;
	$('xfer-consult').hidden = on;
}

async function transfer(mode) {
	const to = $('xfer-to').value;
	if (!session || !to.trim())
		return;
	if (!desk.call) {
		$('xfer-status').textContent = t('not_acd');
		return;
	}
	const { status, data } = await api('POST', `/calls/${desk.call}/transfer`, { target: target(to), mode });
	if (status >= 300) {
		$('xfer-status').textContent = `${t('xfer_failed')}: ${(data && data.error && data.error.message) || status}`;
		return;
	}
	desk.transferred = mode;
	if (mode === 'consult') {
		$('xfer-status').textContent = t('consulting');
		consultShown(true);
	}
}

async function consultEnd(how) {
	if (!desk.call)
		return;
	const { status, data } = await api('POST', `/calls/${desk.call}/transfer/${how}`, {});
	$('xfer-status').textContent = status < 300 ? '' :
		`${t('xfer_failed')}: ${(data && data.error && data.error.message) || status}`;
	if (status < 300)
		consultShown(false);
}

function answer() {
	if (!session || session.isEstablished())
		return;
	try {
		session.answer({ mediaConstraints: { audio: true, video: false } });
	} catch (e) {
		desk.error = e.message;
	}
}

// ------------------------------------------------------- the pop

function cell(row, text) {
	const td = document.createElement('td');
	td.textContent = text == null ? '' : String(text);
	row.append(td);
}

function showCustomer(c, popFields) {
	const dl = $('customer');
	dl.replaceChildren();
	const add = (k, v) => {
		const dt = document.createElement('dt'), dd = document.createElement('dd');
		dt.textContent = k;
		dd.textContent = v == null ? '' : String(v);
		dl.append(dt, dd);
	};
	add(t('name'), c.name);
	add(t('tier'), c.tier);
	add(t('phones'), (c.phones || []).join(', '));
	const dd = dl.lastChild;
	for (const ph of c.phones || []) {
		const b = document.createElement('button');
		b.className = 'dial';
		b.textContent = `${t('call_customer')} ${ph}`;
		b.addEventListener('click', () => dial(ph));
		dd.append(' ', b);
	}
	const fields = c.fields || {};
	for (const f of popFields && popFields.length ? popFields : Object.keys(fields))
		if (f in fields)
			add(typeof f === 'string' ? f : f.name, fields[typeof f === 'string' ? f : f.name]);
	desk.shown = c.id;
}

async function pop(number, t0) {
	$('pop').hidden = false;
	const vars = Object.entries(desk.vars || {});
	$('ivr').textContent = vars.length ? `${t('ivr')}: ${vars.map(([k, v]) => `${k} ${v}`).join(', ')}` : '';
	$('picker').replaceChildren();
	$('customer').replaceChildren();
	$('calls').tBodies[0].replaceChildren();
	if (!/^\+[1-9][0-9]{6,14}$/.test(number)) {
		$('picker').textContent = t('no_customer');
		desk.popMs.push(performance.now() - t0);
		return;
	}
	const { status, data } = await api('GET', `/lookup?number=${encodeURIComponent(number)}`);
	if (status !== 200)
		return;
	desk.customers = data.customers;
	const popFields = (data.pop_fields || []).map((f) => (typeof f === 'string' ? f : f.name));
	if (!data.customers.length) {
		$('picker').textContent = t('no_customer');
	} else if (data.customers.length === 1) {
		showCustomer(data.customers[0], popFields);
	} else {
		const p = $('picker');
		p.textContent = t('pick');
		for (const c of data.customers) {
			const b = document.createElement('button');
			b.textContent = c.name;
			b.className = 'pick';
			b.addEventListener('click', () => showCustomer(c, popFields));
			p.append(b);
		}
	}
	const body = $('calls').tBodies[0];
	for (const c of data.calls) {
		const row = document.createElement('tr');
		cell(row, new Date(c.started_at).toLocaleString(lang));
		cell(row, t(c.direction));
		cell(row, c.agent);
		cell(row, c.duration_s == null ? '' : `${c.duration_s} s`);
		cell(row, c.disposition);
		body.append(row);
	}
	desk.popMs.push(performance.now() - t0);
}

// ------------------------------------------------------------ wiring

document.addEventListener('DOMContentLoaded', () => {
	translate();
	$('lang').addEventListener('change', () => {
		lang = $('lang').value;
		localStorage.setItem('cc.lang', lang);
		translate();
	});
	$('autoanswer').checked = localStorage.getItem('cc.autoanswer') === '1';
	$('autoanswer').addEventListener('change', () =>
		localStorage.setItem('cc.autoanswer', $('autoanswer').checked ? '1' : '0'));
	$('signin').addEventListener('submit', (ev) => signIn(ev).catch((e) => {
		$('signin-error').textContent = `${t('failed')}: ${e.message}`;
	}));
	$('ready').addEventListener('click', () => setState('ready'));
	$('notready').addEventListener('click', () => setState('not_ready', $('reason').value));
	$('signout').addEventListener('click', () => signOut());
	$('answer').addEventListener('click', answer);
	$('hangup').addEventListener('click', () => session && session.terminate());
	$('mute').addEventListener('click', () => {
		if (!session)
			return;
		const muted = session.isMuted().audio;
		if (muted)
			session.unmute({ audio: true });
		else
			session.mute({ audio: true });
		$('mute').textContent = t(muted ? 'mute' : 'unmute');
	});
	$('hold').addEventListener('click', () => hold().catch((e) => { desk.error = e.message; }));
	$('xfer-blind').addEventListener('click', () => transfer('blind').catch((e) => { desk.error = e.message; }));
	$('xfer-consult').addEventListener('click', () => transfer('consult').catch((e) => { desk.error = e.message; }));
	$('xfer-complete').addEventListener('click', () => consultEnd('complete').catch(() => {}));
	$('xfer-cancel').addEventListener('click', () => consultEnd('cancel').catch(() => {}));
	$('dial-go').addEventListener('click', () => dial($('dial-to').value));
	$('disp-save').addEventListener('click', () => saveDisposition().catch((e) => {
		$('disp-error').textContent = `${t('save_failed')}: ${e.message}`;
	}));
	for (const k of '123456789*0#') {
		const b = document.createElement('button');
		b.textContent = k;
		b.addEventListener('click', () => {
			if (session && session.isEstablished())
				session.sendDTMF(k);
			else
				$('dial-to').value += k;
		});
		$('pad').append(b);
	}
});
