/*
 * customers.c: the CRM behind the agent desktop (docs/CRM.md).
 *
 *   POST/GET/PATCH/DELETE /v1/tenants/{slug}/customers[/{id}]
 *   GET  /v1/tenants/{slug}/customers?phone=+86...   exact, on any number
 *   GET  /v1/tenants/{slug}/customers?q=text         name and field values
 *   GET  /v1/tenants/{slug}/customers/{id}/calls     the last calls of its numbers
 *   GET  /v1/tenants/{slug}/lookup?number=+86...     the screen pop
 *   GET/PUT /v1/tenants/{slug}/customer-fields       the tenant's custom fields
 *
 * A customer has a name (1..200 characters), 1..10 distinct E.164
 * numbers (several customers may share one: the pop offers a choice), a
 * tier (normal | vip: a vip customer's numbers are VIP callers) and
 * fields: only those the tenant declared, each of its type. Everything is
 * stored as given and answered as JSON: an HTML name stays text.
 */
#include "api.h"
#include "cc.h"
#include "clock.h"
#include "grams.h"
#include "log.h"
#include "tariff_csv.h"
#include "tenantd.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CRM_FIELDS_MAX 32         /* declared fields of a tenant */
#define CRM_PHONES_MAX 10
#define CRM_VALUE_MAX 200         /* characters of a text field */
#define CRM_PAGE_MAX 50           /* a search's page */
#define CRM_POP_CUSTOMERS 20      /* customers the pop offers for one number */
#define CRM_POP_CALLS 10
#define CRM_VIP_NUMBERS_MAX 10000 /* a tenant's vip customers' numbers: routingd holds them all */

static const char COLS[] = "c.id, c.name, c.tier, c.fields::text, "
	"(SELECT coalesce(json_agg(p.phone ORDER BY p.position), '[]') FROM cc.customer_phones p "
	"WHERE p.tenant_id = c.tenant_id AND p.customer_id = c.id)::text, "
	TN_TS("c.created_at") ", " TN_TS("c.updated_at");

static json_t *row(const PGresult *res, int i)
{
	json_t *fields = json_loads(PQgetvalue(res, i, 3), 0, NULL);
	json_t *phones = json_loads(PQgetvalue(res, i, 4), 0, NULL);

	return json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o}", "id", PQgetvalue(res, i, 0),
	                 "name", PQgetvalue(res, i, 1), "tier", PQgetvalue(res, i, 2),
	                 "phones", phones ? phones : json_array(),
	                 "fields", fields ? fields : json_object(),
	                 "created_at", tn_time(res, i, 5), "updated_at", tn_time(res, i, 6));
}

/* ------------------------------------------------------------- checks */

/* ^\+[1-9][0-9]{6,14}$ */
static bool phone_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return n >= 8 && n <= 16 && s[0] == '+' && s[1] >= '1' && s[1] <= '9' &&
	       strspn(s + 1, "0123456789") == n - 1;
}

static int check_phones(struct tn_req *r, json_t *v, char **err)
{
	size_t i, j;
	json_t *p;

	(void)r;
	if (json_array_size(v) < 1 || json_array_size(v) > CRM_PHONES_MAX)
		return cc_fail(err, "must hold 1 to %d numbers", CRM_PHONES_MAX);
	json_array_foreach(v, i, p) {
		if (!phone_ok(json_string_value(p)))
			return cc_fail(err, "%zu: must be an E.164 number: '+', then 7 to 15 digits, "
			               "the first not 0", i);
		for (j = 0; j < i; j++)
			if (strcmp(json_string_value(json_array_get(v, j)), json_string_value(p)) == 0)
				return cc_fail(err, "%zu: %s comes twice", i, json_string_value(p));
	}
	return CC_OK;
}

static int check_tier(struct tn_req *r, json_t *v, char **err)
{
	const char *s = json_string_value(v);

	(void)r;
	if (strcmp(s, "normal") != 0 && strcmp(s, "vip") != 0)
		return cc_fail(err, "must be normal or vip");
	return CC_OK;
}

static const struct tn_field fields[] = {
	{ "name", JSON_STRING, true, tn_check_name, NULL, false },
	{ "phones", JSON_ARRAY, true, check_phones, NULL, false },
	{ "tier", JSON_STRING, false, check_tier, NULL, false },
	{ "fields", JSON_OBJECT, false, NULL, NULL, false },
	{ NULL, 0, false, NULL, NULL, false },
};

/* ------------------------------------------------ the declared fields */

enum ftype { F_TEXT, F_DATE, F_NUMBER };
static const char *const type_names[] = { "text", "date", "number" };

struct decl {
	char name[40];
	enum ftype type;
	bool pop, required;
};

struct decls {
	struct decl f[CRM_FIELDS_MAX];
	int n;
};

/* the customer's own attributes: a CSV column of that name is the
 * attribute, so no custom field may take it (nor the migration's CHECK) */
static const char *const reserved[] = { "name", "phones", "tier", "id" };

static bool field_name_ok(const char *s)
{
	size_t n = strlen(s);

	for (size_t i = 0; i < CC_ARRAY_LEN(reserved); i++)
		if (strcmp(s, reserved[i]) == 0)
			return false;
	return n >= 1 && n <= 32 && s[0] >= 'a' && s[0] <= 'z' &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

static int type_of(const char *s)
{
	for (int i = 0; i < (int)CC_ARRAY_LEN(type_names); i++)
		if (strcmp(s, type_names[i]) == 0)
			return i;
	return -1;
}

/* The tenant's declared fields; CC_ERROR after answering. */
static int load_decls(struct tn_req *r, struct decls *d)
{
	const char *p[1] = { r->tenant.id };
	PGresult *res = cc_pg_exec(&r->d->pg, "SELECT name, type, pop, required FROM cc.customer_fields "
	                           "WHERE tenant_id = $1 ORDER BY position", 1, p);

	d->n = 0;
	if (!res) {
		tn_db_error(r, "customer fields");
		return CC_ERROR;
	}
	for (int i = 0; i < PQntuples(res) && d->n < CRM_FIELDS_MAX; i++) {
		struct decl *f = &d->f[d->n++];

		snprintf(f->name, sizeof(f->name), "%s", PQgetvalue(res, i, 0));
		f->type = (enum ftype)type_of(PQgetvalue(res, i, 1));
		f->pop = PQgetvalue(res, i, 2)[0] == 't';
		f->required = PQgetvalue(res, i, 3)[0] == 't';
	}
	PQclear(res);
	return CC_OK;
}

static const struct decl *decl_of(const struct decls *d, const char *name)
{
	for (int i = 0; i < d->n; i++)
		if (strcmp(d->f[i].name, name) == 0)
			return &d->f[i];
	return NULL;
}

/* A value of field f; CC_ERROR with *err (the reason) if it is not one. */
static int check_value(const struct decl *f, json_t *v, char **err)
{
	switch (f->type) {
	case F_TEXT:
		if (!json_is_string(v) || tn_utf8_len(json_string_value(v)) < 1 ||
		    tn_utf8_len(json_string_value(v)) > CRM_VALUE_MAX)
			return cc_fail(err, "must be a text of 1 to %d characters", CRM_VALUE_MAX);
		return CC_OK;
	case F_DATE:
		if (!json_is_string(v) || !cc_date_ok(json_string_value(v)))
			return cc_fail(err, "must be a date, YYYY-MM-DD");
		return CC_OK;
	case F_NUMBER:
		if (!json_is_number(v) || fabs(json_number_value(v)) >= 1e15)
			return cc_fail(err, "must be a number below 10^15");
		return CC_OK;
	}
	return cc_fail(err, "has an unknown type");
}

/* Checks the fields object v (NULL: none) against the declarations: each
 * declared and of its type; with all, every required one present (a
 * PATCH only may not remove one: null). CC_ERROR with *name (the field)
 * and *err. */
static int check_customer_fields(const struct decls *d, json_t *v, bool all, const char **name,
                                 char **err)
{
	const char *k;
	json_t *x;

	json_object_foreach(v, k, x) {
		const struct decl *f = decl_of(d, k);

		*name = k;
		if (!f)
			return cc_fail(err, "is not one of the tenant's customer fields");
		if (json_is_null(x) && !all && !f->required)
			continue;
		if (json_is_null(x) && f->required)
			return cc_fail(err, "is required");
		if (check_value(f, x, err) != CC_OK)
			return CC_ERROR;
	}
	for (int i = 0; all && i < d->n; i++)
		if (d->f[i].required && !json_object_get(v, d->f[i].name)) {
			*name = d->f[i].name;
			return cc_fail(err, "is required");
		}
	return CC_OK;
}

/* The search text of a customer (grams.h): its name and field values,
 * one a line, ASCII folded. Malloc'd. */
static char *search_text(const char *name, json_t *fv)
{
	char *s = strdup(name);
	const char *k;
	json_t *x;

	CC_BUG_ON(!s);
	json_object_foreach(fv, k, x) {
		char *v = json_is_string(x) ? strdup(json_string_value(x)) : json_dumps(x, JSON_ENCODE_ANY);
		char *next = cc_sprintf("%s\n%s", s, v ? v : "");

		free(v);
		free(s);
		s = next;
	}
	crm_fold(s);
	return s;
}

/* ------------------------------------------------------------ writing */

/* In the open transaction: the customer's numbers, in their order. */
static int write_phones(struct tn_req *r, const char *id, json_t *phones)
{
	char *text = json_dumps(phones, JSON_COMPACT);
	const char *p[3] = { r->tenant.id, id, text };
	int rc = cc_pg_cmd(&r->d->pg, "INSERT INTO cc.customer_phones (tenant_id, customer_id, phone, "
	                   "position) SELECT $1, $2, t.p, t.o FROM jsonb_array_elements_text($3::jsonb) "
	                   "WITH ORDINALITY AS t(p, o)", 3, p);

	free(text);
	return rc;
}

static json_t *select_one(struct tn_req *r, const char *id)
{
	const char *p[2] = { r->tenant.id, id };
	char *sql = cc_sprintf("SELECT %s FROM cc.customers c WHERE c.tenant_id = $1 AND c.id = $2", COLS);
	PGresult *res = cc_pg_exec(&r->d->pg, sql, 2, p);
	json_t *out = NULL;

	free(sql);
	if (res && PQntuples(res) == 1)
		out = row(res, 0);
	if (res)
		PQclear(res);
	return out;
}

/* In the open transaction, after a change: CC_OK if the tenant's vip
 * customers have at most CRM_VIP_NUMBERS_MAX distinct numbers, CC_ERROR
 * beyond (*over) or on a database error (!*over). */
static int vip_cap(struct cc_pg *pg, const char *tenant, bool *over)
{
	const char *p[1] = { tenant };
	PGresult *res = cc_pg_exec(pg, "SELECT count(DISTINCT p.phone) FROM cc.customer_phones p "
	                           "JOIN cc.customers c ON c.tenant_id = p.tenant_id AND c.id = p.customer_id "
	                           "WHERE p.tenant_id = $1 AND c.tier = 'vip'", 1, p);
	long n;

	*over = false;
	if (!res || PQntuples(res) != 1) {
		if (res)
			PQclear(res);
		return CC_ERROR;
	}
	n = atol(PQgetvalue(res, 0, 0));
	PQclear(res);
	*over = n > CRM_VIP_NUMBERS_MAX;
	return *over ? CC_ERROR : CC_OK;
}

/* after vip_cap refused: the answer */
static void vip_refused(struct tn_req *r, bool over, const char *what)
{
	if (!over)
		return tn_rollback(r, what);
	tn_abort(r);
	tn_error(r, 422, "invalid_argument", "tier", "the tenant's vip customers may have at most %d "
	         "numbers between them", CRM_VIP_NUMBERS_MAX);
}

/* A vip customer's numbers are VIP callers: routingd reloads its list. */
static void notify_vip(struct tn_req *r)
{
	tn_notify(r->d, r->tenant.id, "viplist", NULL);
}

static void create(struct tn_req *r)
{
	json_t *fv = json_object_get(r->body, "fields"), *out;
	const char *tier = tn_str(r, "tier") ? tn_str(r, "tier") : "normal", *bad = NULL;
	char id[CC_UUID_LEN], *err = NULL;
	bool over = false;
	struct decls d;

	if (load_decls(r, &d) != CC_OK)
		return;
	if (check_customer_fields(&d, fv, true, &bad, &err) != CC_OK) {
		tn_error(r, 422, "invalid_argument", "fields", "'fields.%s' %s", bad, err);
		free(err);
		return;
	}
	if (tn_new_id(r, id) != CC_OK)
		return;
	char *text = fv ? json_dumps(fv, JSON_COMPACT) : strdup("{}");
	char *search = search_text(tn_str(r, "name"), fv);
	char *grams = crm_grams(search);
	const char *p[7] = { id, r->tenant.id, tn_str(r, "name"), tier, text, search, grams };
	int rc = tn_begin(r);

	if (rc == CC_OK)
		rc = cc_pg_cmd(&r->d->pg, "INSERT INTO cc.customers (id, tenant_id, name, tier, fields, "
		               "search, grams) VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7::tsvector)", 7, p);
	if (rc == CC_OK)
		rc = write_phones(r, id, json_object_get(r->body, "phones"));
	if (rc == CC_OK && strcmp(tier, "vip") == 0)
		rc = vip_cap(&r->d->pg, r->tenant.id, &over);
	if (rc == CC_OK)
		rc = tn_commit(r);
	free(text);
	free(search);
	free(grams);
	if (rc != CC_OK)
		return vip_refused(r, over, "customer");
	if (strcmp(tier, "vip") == 0)
		notify_vip(r);
	if (!(out = select_one(r, id)))
		return tn_db_error(r, "customer");
	tn_reply(r, 201, out);
}

static void get(struct tn_req *r)
{
	json_t *out = select_one(r, r->params[1]);

	if (!out && r->d->pg.error == CC_PG_OK)
		return tn_error(r, 404, "not_found", NULL, "no such customer");
	if (!out)
		return tn_db_error(r, "customer");
	tn_reply(r, 200, out);
}

/* PATCH: name, tier, phones (the whole list) and fields (merged: a field
 * set to null is removed, unless it is required). */
static void patch(struct tn_req *r)
{
	const char *p[7] = { r->tenant.id, r->params[1] }, *bad = NULL;
	json_t *fv = json_object_get(r->body, "fields"), *phones = json_object_get(r->body, "phones");
	json_t *cur = NULL, *out;
	char *err = NULL, *text = NULL, *search = NULL, *grams = NULL;
	bool was_vip, vip, over = false;
	struct decls d;
	PGresult *res;
	const char *k;
	json_t *x;
	int rc;

	if (tn_patch_body(r, fields, NULL) != CC_OK || load_decls(r, &d) != CC_OK)
		return;
	if (check_customer_fields(&d, fv, false, &bad, &err) != CC_OK) {
		tn_error(r, 422, "invalid_argument", "fields", "'fields.%s' %s", bad, err);
		free(err);
		return;
	}
	if (tn_begin(r) != CC_OK)
		return tn_rollback(r, "customer");
	res = cc_pg_exec(&r->d->pg, "SELECT name, tier, fields::text FROM cc.customers "
	                 "WHERE tenant_id = $1 AND id = $2 FOR UPDATE", 2, p);
	if (!res)
		return tn_rollback(r, "customer");
	if (PQntuples(res) != 1) {
		PQclear(res);
		tn_abort(r);
		return tn_error(r, 404, "not_found", NULL, "no such customer");
	}
	cur = json_loads(PQgetvalue(res, 0, 2), 0, NULL);
	if (!cur)
		cur = json_object();
	json_object_foreach(fv, k, x)
		if (json_is_null(x))
			json_object_del(cur, k);
		else
			json_object_set(cur, k, x);
	char *name = strdup(tn_str(r, "name") ? tn_str(r, "name") : PQgetvalue(res, 0, 0));
	was_vip = strcmp(PQgetvalue(res, 0, 1), "vip") == 0;
	vip = tn_str(r, "tier") ? strcmp(tn_str(r, "tier"), "vip") == 0 : was_vip;
	PQclear(res);
	text = json_dumps(cur, JSON_COMPACT);
	search = search_text(name, cur);
	grams = crm_grams(search);
	p[2] = name;
	p[3] = vip ? "vip" : "normal";
	p[4] = text;
	p[5] = search;
	p[6] = grams;
	rc = cc_pg_cmd(&r->d->pg, "UPDATE cc.customers SET name = $3, tier = $4, fields = $5::jsonb, "
	               "search = $6, grams = $7::tsvector, updated_at = now() "
	               "WHERE tenant_id = $1 AND id = $2", 7, p);
	if (rc == CC_OK && phones)
		rc = cc_pg_cmd(&r->d->pg, "DELETE FROM cc.customer_phones WHERE tenant_id = $1 "
		               "AND customer_id = $2", 2, p);
	if (rc == CC_OK && phones)
		rc = write_phones(r, r->params[1], phones);
	if (rc == CC_OK && vip && (phones || !was_vip))
		rc = vip_cap(&r->d->pg, r->tenant.id, &over);
	if (rc == CC_OK)
		rc = tn_commit(r);
	json_decref(cur);
	free(name);
	free(text);
	free(search);
	free(grams);
	if (rc != CC_OK)
		return vip_refused(r, over, "customer");
	if (was_vip || vip)
		notify_vip(r);
	if (!(out = select_one(r, r->params[1])))
		return tn_db_error(r, "customer");
	tn_reply(r, 200, out);
}

static void remove_customer(struct tn_req *r)
{
	const char *p[2] = { r->tenant.id, r->params[1] };
	PGresult *res = cc_pg_exec(&r->d->pg, "DELETE FROM cc.customers WHERE tenant_id = $1 "
	                           "AND id = $2 RETURNING tier", 2, p);
	bool vip;
	int n;

	if (!res)
		return tn_db_error(r, "customer");
	n = PQntuples(res);
	vip = n && strcmp(PQgetvalue(res, 0, 0), "vip") == 0;
	PQclear(res);
	if (!n)
		return tn_error(r, 404, "not_found", NULL, "no such customer");
	if (vip)
		notify_vip(r);
	tn_no_content(r);
}

/* ----------------------------------------------------------- searching */

/* limit (1..50) and after (a customer id); CC_ERROR after answering */
static int search_page(struct tn_req *r, char lim[8], const char **after)
{
	int limit;

	if (tn_page(r, &limit, after) != CC_OK)
		return CC_ERROR;
	if (limit > CRM_PAGE_MAX) {
		tn_error(r, 400, "invalid_argument", "limit", "limit must be 1 to %d", CRM_PAGE_MAX);
		return CC_ERROR;
	}
	if (*after && !cc_uuid_valid(*after)) {
		tn_error(r, 400, "invalid_argument", "after", "after is not a cursor of this list");
		return CC_ERROR;
	}
	if (!*after)
		*after = "00000000-0000-0000-0000-000000000000";
	snprintf(lim, 8, "%d", limit);
	return CC_OK;
}

/* term as a LIKE pattern matching it anywhere ('\', '%' and '_' literal);
 * malloc'd */
static char *like_anywhere(const char *term)
{
	char *out = malloc(2 * strlen(term) + 3), *o = out;

	CC_BUG_ON(!out);
	*o++ = '%';
	for (; *term; term++) {
		if (*term == '\\' || *term == '%' || *term == '_')
			*o++ = '\\';
		*o++ = *term;
	}
	*o++ = '%';
	*o = '\0';
	return out;
}

/* 1 if pg_trgm finds no trigram in term (it has no letter or digit, in
 * pg_trgm's own judgement), 0 if it does, -1 on a database error */
static int no_trigram(struct tn_req *r, const char *term)
{
	const char *p[1] = { term };
	PGresult *res = cc_pg_exec(&r->d->pg, "SELECT cardinality(show_trgm($1)) = 0", 1, p);
	int out = -1;

	if (res && PQntuples(res) == 1)
		out = PQgetvalue(res, 0, 0)[0] == 't';
	if (res)
		PQclear(res);
	return out;
}

/* every gram of term, ANDed, as tsquery text ("'!' & '!!'"); its grams
 * hold no space, so each space of crm_grams' text parts two. Malloc'd. */
static char *all_grams(const char *term)
{
	char *g = crm_grams(term), *out = malloc(4 * strlen(g) + 1), *o = out;

	CC_BUG_ON(!out);
	for (const char *s = g; *s; s++)
		if (*s == ' ') {
			memcpy(o, " & ", 3);
			o += 3;
		} else {
			*o++ = *s;
		}
	*o = '\0';
	free(g);
	return out;
}

/* ?q=: a substring of the name or of a field's value (docs/CRM.md
 * "Search"). Terms of 1 or 2 characters are one lexeme of the grams
 * column; longer ones go to the trigram index. Both are rechecked with
 * LIKE, and ORDER BY id with the LIMIT lets the planner walk the primary
 * key instead when the term is in very many customers. */
static void list_q(struct tn_req *r, const char *q, const char *p[6])
{
	json_t *valid = json_string(q);
	char *term, *e, *pattern, *lexeme = NULL, *sql;
	int grams_only = 0;
	size_t n;
	PGresult *res;

	json_decref(valid);
	if (!valid)
		return tn_error(r, 400, "invalid_argument", "q", "q must be UTF-8 text");
	while (*q == ' ')
		q++;
	term = strdup(q);
	CC_BUG_ON(!term);
	for (e = term + strlen(term); e > term && e[-1] == ' '; )
		*--e = '\0';
	n = crm_chars(term);
	for (const char *s = term; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			n = 0;
	if (n < 1 || n > 100) {
		free(term);
		return tn_error(r, 400, "invalid_argument", "q",
		                "q must be 1 to 100 characters, no control character");
	}
	crm_fold(term);
	if (n > 2 && (grams_only = no_trigram(r, term)) < 0) {
		free(term);
		return tn_db_error(r, "customers");
	}
	pattern = like_anywhere(term);
	p[3] = pattern;
	if (n > 2 && grams_only) {
		/* pg_trgm has no trigram of it ("!!!": no letter or digit) and
		 * would scan them all: every gram of the term instead */
		p[4] = lexeme = all_grams(term);
		sql = cc_sprintf("SELECT %s FROM cc.customers c WHERE c.tenant_id = $1 AND c.id > $2 "
		                 "AND c.grams @@ $5::tsquery AND c.search LIKE $4 ORDER BY c.id LIMIT $3",
		                 COLS);
	} else if (n <= 2) {
		p[4] = lexeme = crm_lexeme(term);
		sql = cc_sprintf("SELECT %s FROM cc.customers c WHERE c.tenant_id = $1 AND c.id > $2 "
		                 "AND c.grams @@ $5::tsquery AND c.search LIKE $4 ORDER BY c.id LIMIT $3",
		                 COLS);
	} else {
		sql = cc_sprintf("SELECT %s FROM cc.customers c WHERE c.tenant_id = $1 AND c.id > $2 "
		                 "AND c.search LIKE $4 ORDER BY c.id LIMIT $3", COLS);
	}
	res = cc_pg_exec(&r->d->pg, sql, lexeme ? 5 : 4, p);
	free(sql);
	free(term);
	free(pattern);
	free(lexeme);
	if (!res)
		return tn_db_error(r, "customers");
	tn_reply_page(r, res, row, atoi(p[2]), 0);
}

static void list(struct tn_req *r)
{
	const char *phone = tn_query(r, "phone"), *q = tn_query(r, "q"), *p[6] = { r->tenant.id };
	char lim[8], *sql;
	PGresult *res;
	int n = 3;

	if (phone && q)
		return tn_error(r, 400, "invalid_argument", "q", "search by phone or by q, not both");
	if (phone && !phone_ok(phone))
		return tn_error(r, 400, "invalid_argument", "phone",
		                "phone must be an E.164 number: '+', then 7 to 15 digits");
	if (search_page(r, lim, &p[1]) != CC_OK)
		return;
	p[2] = lim;
	if (!phone && !q && r->role == TN_R_AGENT)    /* an agent finds, it does not page the CRM */
		return tn_error(r, 422, "invalid_argument", "q",
		                "an agent's key searches by phone or q; it does not list the customers");
	if (q) {
		list_q(r, q, p);
		return;
	}
	if (phone) {
		p[n++] = phone;
		sql = cc_sprintf("SELECT %s FROM cc.customers c WHERE c.tenant_id = $1 AND c.id > $2 "
		                 "AND c.id IN (SELECT customer_id FROM cc.customer_phones "
		                 "WHERE tenant_id = $1 AND phone = $4) ORDER BY c.id LIMIT $3", COLS);
	} else {
		sql = cc_sprintf("SELECT %s FROM cc.customers c WHERE c.tenant_id = $1 AND c.id > $2 "
		                 "ORDER BY c.id LIMIT $3", COLS);
	}
	res = cc_pg_exec(&r->d->pg, sql, n, p);
	free(sql);
	if (!res)
		return tn_db_error(r, "customers");
	tn_reply_page(r, res, row, atoi(lim), 0);
}

/* ---------------------------------------------------- calls, the pop */

static json_t *call_row(const PGresult *res, int i)
{
	return json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "id", PQgetvalue(res, i, 0),
	                 "started_at", tn_time(res, i, 1), "direction", tn_col_text(res, i, 2),
	                 "number", tn_col_text(res, i, 3), "agent", tn_col_text(res, i, 4),
	                 "duration_s", tn_col_int(res, i, 5), "disposition", tn_col_text(res, i, 6),
	                 "result", tn_col_text(res, i, 7), "queue", tn_col_text(res, i, 8));
}

/* The last calls of the numbers (a PostgreSQL text[] literal), newest
 * first, before the call after (NULL: from the newest); NULL on error. */
static PGresult *calls_of(struct tn_req *r, const char *numbers, const char *after, const char *lim)
{
	const char *p[4] = { r->tenant.id, numbers, lim, after };

	return cc_pg_exec(&r->d->pg, after ?
		"SELECT c.id, " TN_TS("c.started_at") ", c.direction, CASE WHEN c.from_number = "
		"ANY ($2::text[]) THEN c.from_number ELSE c.to_number END, c.agent, c.talk_seconds, "
		"c.disposition, c.result, c.queue FROM cc.calls c WHERE c.tenant_id = $1 "
		"AND (c.from_number = ANY ($2::text[]) OR c.to_number = ANY ($2::text[])) "
		"AND c.started_at IS NOT NULL AND (c.started_at, c.id) < (SELECT started_at, id "
		"FROM cc.calls WHERE tenant_id = $1 AND id = $4::uuid) "
		"ORDER BY c.started_at DESC, c.id DESC LIMIT $3" :
		"SELECT c.id, " TN_TS("c.started_at") ", c.direction, CASE WHEN c.from_number = "
		"ANY ($2::text[]) THEN c.from_number ELSE c.to_number END, c.agent, c.talk_seconds, "
		"c.disposition, c.result, c.queue FROM cc.calls c WHERE c.tenant_id = $1 "
		"AND (c.from_number = ANY ($2::text[]) OR c.to_number = ANY ($2::text[])) "
		"AND c.started_at IS NOT NULL ORDER BY c.started_at DESC, c.id DESC LIMIT $3",
		after ? 4 : 3, p);
}

/* phones (E.164, checked) as a text[] literal; malloc'd */
static char *numbers_literal(json_t *phones)
{
	char *s = strdup("{");
	size_t i;
	json_t *v;

	CC_BUG_ON(!s);
	json_array_foreach(phones, i, v) {
		char *next = cc_sprintf("%s%s%s", s, i ? "," : "", json_string_value(v));

		free(s);
		s = next;
	}
	char *out = cc_sprintf("%s}", s);
	free(s);
	return out;
}

static void customer_calls(struct tn_req *r)
{
	json_t *c = select_one(r, r->params[1]);
	const char *after;
	char lim[8], *numbers;
	int limit;
	PGresult *res;

	if (!c && r->d->pg.error == CC_PG_OK)
		return tn_error(r, 404, "not_found", NULL, "no such customer");
	if (!c)
		return tn_db_error(r, "customer");
	numbers = numbers_literal(json_object_get(c, "phones"));
	json_decref(c);
	if (tn_page(r, &limit, &after) != CC_OK)
		goto out;
	if (after && !cc_uuid_valid(after)) {
		tn_error(r, 400, "invalid_argument", "after", "after is not a cursor of this list");
		goto out;
	}
	snprintf(lim, sizeof(lim), "%d", limit);
	if (!(res = calls_of(r, numbers, after, lim)))
		tn_db_error(r, "calls");
	else
		tn_reply_page(r, res, call_row, limit, 0);
out:
	free(numbers);
}

static void lookup(struct tn_req *r)
{
	const char *number = tn_query(r, "number");
	char *sql, *numbers, lim[8];
	json_t *customers, *calls, *pop;
	PGresult *res;
	struct decls d;

	if (!phone_ok(number))
		return tn_error(r, 400, "invalid_argument", "number",
		                "number must be an E.164 number: '+', then 7 to 15 digits");
	if (load_decls(r, &d) != CC_OK)
		return;
	const char *p[3] = { r->tenant.id, number };
	snprintf(lim, sizeof(lim), "%d", CRM_POP_CUSTOMERS);
	p[2] = lim;
	sql = cc_sprintf("SELECT %s FROM cc.customers c WHERE c.tenant_id = $1 AND c.id IN "
	                 "(SELECT customer_id FROM cc.customer_phones WHERE tenant_id = $1 "
	                 "AND phone = $2) ORDER BY c.id LIMIT $3", COLS);
	res = cc_pg_exec(&r->d->pg, sql, 3, p);
	free(sql);
	if (!res)
		return tn_db_error(r, "customers");
	customers = json_array();
	for (int i = 0; i < PQntuples(res); i++)
		json_array_append_new(customers, row(res, i));
	PQclear(res);
	numbers = cc_sprintf("{%s}", number);
	snprintf(lim, sizeof(lim), "%d", CRM_POP_CALLS);
	/* an agent gets the calls of a customer's number only: the lookup of
	 * any number is not a way round GET /calls, which agents may not use */
	if (r->role == TN_R_AGENT && !json_array_size(customers))
		res = calls_of(r, numbers, NULL, "0");
	else
		res = calls_of(r, numbers, NULL, lim);
	free(numbers);
	if (!res) {
		json_decref(customers);
		return tn_db_error(r, "calls");
	}
	calls = json_array();
	for (int i = 0; i < PQntuples(res); i++)
		json_array_append_new(calls, call_row(res, i));
	PQclear(res);
	pop = json_array();
	for (int i = 0; i < d.n; i++)
		if (d.f[i].pop)
			json_array_append_new(pop, json_string(d.f[i].name));
	tn_reply(r, 200, json_pack("{s:s, s:o, s:o, s:o}", "number", number, "customers", customers,
	                           "calls", calls, "pop_fields", pop));
}

/* ------------------------------------------------ the declared fields */

static int check_decl_items(struct tn_req *r, json_t *v, char **err)
{
	size_t i, j;
	json_t *it;

	(void)r;
	if (json_array_size(v) > CRM_FIELDS_MAX)
		return cc_fail(err, "may hold at most %d fields", CRM_FIELDS_MAX);
	json_array_foreach(v, i, it) {
		const char *k, *name, *type;
		json_t *x;

		if (!json_is_object(it))
			return cc_fail(err, "%zu: must be an object {\"name\", \"type\", \"pop\", \"required\"}", i);
		json_object_foreach(it, k, x)
			if (!((strcmp(k, "name") == 0 && json_is_string(x)) ||
			      (strcmp(k, "type") == 0 && json_is_string(x)) ||
			      ((strcmp(k, "pop") == 0 || strcmp(k, "required") == 0) && json_is_boolean(x))))
				return cc_fail(err, "%zu: '%s' is not a field's name (string), type "
				               "(string), pop or required (booleans)", i, k);
		name = json_string_value(json_object_get(it, "name"));
		type = json_string_value(json_object_get(it, "type"));
		if (!name || !field_name_ok(name))
			return cc_fail(err, "%zu: a name must be 1 to 32 of a-z, 0-9 and '_', "
			               "starting with a letter, and none of name, phones, tier, id", i);
		if (!type || type_of(type) < 0)
			return cc_fail(err, "%zu: type must be text, date or number", i);
		for (j = 0; j < i; j++)
			if (strcmp(json_string_value(json_object_get(json_array_get(v, j), "name")), name) == 0)
				return cc_fail(err, "%zu: the field %s comes twice", i, name);
	}
	return CC_OK;
}

static const struct tn_field decl_fields[] = {
	{ "items", JSON_ARRAY, true, check_decl_items, NULL, false },
	{ NULL, 0, false, NULL, NULL, false },
};

static void get_decls(struct tn_req *r)
{
	struct decls d;
	json_t *items;

	if (load_decls(r, &d) != CC_OK)
		return;
	items = json_array();
	for (int i = 0; i < d.n; i++)
		json_array_append_new(items, json_pack("{s:s, s:s, s:b, s:b}", "name", d.f[i].name,
		                      "type", type_names[d.f[i].type], "pop", d.f[i].pop,
		                      "required", d.f[i].required));
	tn_reply(r, 200, json_pack("{s:o}", "items", items));
}

/* The whole list, replaced. A field taken out stays in the customers
 * that have it (it is no longer checked, nor accepted in a new value). */
static void put_decls(struct tn_req *r)
{
	json_t *items = json_object_get(r->body, "items"), *it;
	const char *p[6] = { r->tenant.id };
	char pos[24];
	size_t i;

	if (tn_begin(r) != CC_OK ||
	    cc_pg_cmd(&r->d->pg, "DELETE FROM cc.customer_fields WHERE tenant_id = $1", 1, p) != CC_OK)
		return tn_rollback(r, "customer fields");
	json_array_foreach(items, i, it) {
		snprintf(pos, sizeof(pos), "%zu", i);
		p[1] = json_string_value(json_object_get(it, "name"));
		p[2] = json_string_value(json_object_get(it, "type"));
		p[3] = json_is_true(json_object_get(it, "pop")) ? "true" : "false";
		p[4] = json_is_true(json_object_get(it, "required")) ? "true" : "false";
		p[5] = pos;
		if (cc_pg_cmd(&r->d->pg, "INSERT INTO cc.customer_fields (tenant_id, name, type, pop, "
		              "required, position) VALUES ($1, $2, $3, $4, $5, $6)", 6, p) != CC_OK)
			return tn_rollback(r, "a customer field");
	}
	if (tn_commit(r) != CC_OK)
		return tn_rollback(r, "customer fields");
	get_decls(r);
}

/* ------------------------------------------------------------- import */

/* POST .../customers/import, text/csv: header name,phones[,tier][,<field>...]
 * (any order), phones ';'-separated. Every line is checked as it arrives
 * (billing's CSV reader, tariff_csv.h) and every bad one listed with its
 * number and reason (422, nothing stored); a clean file is stored in one
 * transaction on a worker thread, on a connection of its own, so that the
 * loop serves other requests meanwhile. */
#define CRM_IMPORT_ROWS_MAX 100000
#define CRM_IMPORT_BATCH 2000
#define CRM_IMPORT_BYTES_MAX (32 * 1024 * 1024)   /* the rows are all held until the commit */

enum col_kind { COL_NAME, COL_PHONES, COL_TIER, COL_FIELD };

struct import {
	struct decls d;
	struct bl_csv_result csv;
	struct bl_csv_reader *reader;     /* NULL once ended */
	int ncol;
	enum col_kind kind[BL_CSV_MAX_FIELDS];
	int field[BL_CSV_MAX_FIELDS];     /* COL_FIELD: index in d */
	bool header_ok;
	size_t bytes, n_vip;
	json_t *batch, *pbatch;           /* the rows being gathered */
	json_t *batches;                  /* [[customers], [phones]] of each batch, as text */
	bool refused;
};

/* One import at a time per tenant (it holds a connection and memory):
 * the tenants importing now. Only the loop's thread touches it. */
static struct {
	char (*id)[CC_UUID_LEN];
	size_t n, cap;
} importing;

static bool import_lock(const char *tenant)
{
	for (size_t i = 0; i < importing.n; i++)
		if (strcmp(importing.id[i], tenant) == 0)
			return false;
	if (importing.n == importing.cap) {
		importing.cap = importing.cap ? 2 * importing.cap : 8;
		importing.id = realloc(importing.id, importing.cap * sizeof(*importing.id));
		CC_BUG_ON(!importing.id);
	}
	snprintf(importing.id[importing.n++], CC_UUID_LEN, "%s", tenant);
	return true;
}

static void import_unlock(const char *tenant)
{
	for (size_t i = 0; i < importing.n; i++)
		if (strcmp(importing.id[i], tenant) == 0) {
			memmove(importing.id[i], importing.id[--importing.n], CC_UUID_LEN);
			return;
		}
}

/* how many bytes of s to quote in a reason: at most 40, cut before a
 * character, not in one (bl_csv_error replaces bytes that are not UTF-8) */
static int quote_len(const char *s)
{
	size_t n = strnlen(s, 40);

	while (n > 0 && s[n] && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return (int)n;
}

static void import_header(struct import *u, struct bl_csv_reader *p, char *const *f, size_t n,
                          bool too_many)
{
	bool have[4] = { false }, seen[CRM_FIELDS_MAX] = { false };

	u->header_ok = true;
	if (too_many) {
		bl_csv_error(p, "more than %d columns", BL_CSV_MAX_FIELDS);
		u->header_ok = false;
		return;
	}
	u->ncol = (int)n;
	for (size_t i = 0; i < n; i++) {
		const struct decl *dl = decl_of(&u->d, f[i]);
		enum col_kind k = strcmp(f[i], "name") == 0 ? COL_NAME : strcmp(f[i], "phones") == 0
		                  ? COL_PHONES : strcmp(f[i], "tier") == 0 ? COL_TIER : COL_FIELD;

		u->kind[i] = k;
		if (k == COL_FIELD && !dl) {
			bl_csv_error(p, "unknown column \"%.*s\" (not one of the tenant's customer fields)",
			             quote_len(f[i]), f[i]);
			u->header_ok = false;
			continue;
		}
		if (k == COL_FIELD)
			u->field[i] = (int)(dl - u->d.f);
		if (k == COL_FIELD ? seen[u->field[i]] : have[k]) {
			bl_csv_error(p, "column %.*s given twice", quote_len(f[i]), f[i]);
			u->header_ok = false;
		}
		if (k == COL_FIELD)
			seen[u->field[i]] = true;
		else
			have[k] = true;
	}
	if (!have[COL_NAME] || !have[COL_PHONES]) {
		bl_csv_error(p, "missing column %s", have[COL_NAME] ? "phones" : "name");
		u->header_ok = false;
	}
	for (int i = 0; i < u->d.n; i++)
		if (u->d.f[i].required && !seen[i]) {
			bl_csv_error(p, "missing column %s (a required field)", u->d.f[i].name);
			u->header_ok = false;
		}
}

/* a CSV value of field f as JSON, or NULL with *err */
static json_t *csv_value(const struct decl *f, const char *s, char **err)
{
	json_t *v = NULL;
	char *end;

	if (f->type == F_NUMBER) {
		double x = strtod(s, &end);

		if (*end || end == s || strspn(s, "+-0123456789.eE") != strlen(s)) {
			cc_fail(err, "must be a number below 10^15");
			return NULL;
		}
		v = strspn(s, "+-0123456789") == strlen(s) && fabs(x) < 1e15 ? json_integer(strtoll(s, NULL, 10))
		    : json_real(x);
	} else {
		v = json_string(s);        /* NULL: not UTF-8 */
	}
	if (!v || check_value(f, v, err) != CC_OK) {
		if (!v)
			cc_fail(err, "is not valid UTF-8");
		json_decref(v);
		return NULL;
	}
	return v;
}

/* the phones of a line: ';'-separated, spaces around them dropped */
static json_t *csv_phones(const char *s, char **err)
{
	json_t *a = json_array();
	char *copy = strdup(s), *save = NULL, *tok;

	CC_BUG_ON(!copy);
	for (tok = strtok_r(copy, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
		char *e = tok + strlen(tok);

		while (*tok == ' ')
			tok++;
		while (e > tok && e[-1] == ' ')
			*--e = '\0';
		json_array_append_new(a, json_string(tok));
	}
	free(copy);
	if (check_phones(NULL, a, err) != CC_OK) {
		json_decref(a);
		return NULL;
	}
	return a;
}

/* the rows gathered so far become one batch's text (one INSERT each) */
static void flush_batch(struct import *u)
{
	char *c, *ph;

	if (!json_array_size(u->batch))
		return;
	c = json_dumps(u->batch, JSON_COMPACT);
	ph = json_dumps(u->pbatch, JSON_COMPACT);
	json_array_append_new(u->batches, json_pack("[s, s]", c, ph));
	free(c);
	free(ph);
	json_array_clear(u->batch);
	json_array_clear(u->pbatch);
}

static void import_row(struct import *u, struct bl_csv_reader *p, char *const *f, size_t n,
                       bool too_many)
{
	json_t *fv = json_object(), *phones = NULL, *v;
	const char *name = NULL, *tier = "normal";
	char *err = NULL, id[CC_UUID_LEN];

	if (!u->header_ok)
		goto out;
	if (too_many || (int)n != u->ncol) {
		bl_csv_error(p, "%zu fields, the header has %d", n, u->ncol);
		goto out;
	}
	if (u->csv.rows > CRM_IMPORT_ROWS_MAX) {
		if (u->csv.rows == CRM_IMPORT_ROWS_MAX + 1)
			bl_csv_error(p, "more than %d customers in one import", CRM_IMPORT_ROWS_MAX);
		goto out;
	}
	for (int i = 0; i < u->ncol; i++) {
		switch (u->kind[i]) {
		case COL_NAME:
			name = f[i];
			if (!(v = json_string(name)) || tn_utf8_len(name) < 1 || tn_utf8_len(name) > 200) {
				json_decref(v);
				bl_csv_error(p, "name: 1 to 200 characters of UTF-8");
				goto out;
			}
			json_decref(v);
			break;
		case COL_PHONES:
			if (!(phones = csv_phones(f[i], &err))) {
				bl_csv_error(p, "phones: %s", err);
				goto out;
			}
			break;
		case COL_TIER:
			if (*f[i] && strcmp(f[i], "normal") != 0 && strcmp(f[i], "vip") != 0) {
				bl_csv_error(p, "tier: must be normal or vip (or empty)");
				goto out;
			}
			tier = *f[i] ? f[i] : "normal";
			break;
		case COL_FIELD: {
			const struct decl *dl = &u->d.f[u->field[i]];

			if (!*f[i] && dl->required) {
				bl_csv_error(p, "%s: is required", dl->name);
				goto out;
			}
			if (!*f[i])
				break;
			if (!(v = csv_value(dl, f[i], &err))) {
				bl_csv_error(p, "%s: %s", dl->name, err);
				goto out;
			}
			json_object_set_new(fv, dl->name, v);
			break;
		}
		}
	}
	if (u->csv.n_errors || cc_uuid(id) != CC_OK) {
		if (!u->csv.n_errors)
			bl_csv_error(p, "no random id (the system's RNG failed)");
		goto out;                  /* nothing will be stored: gather no more */
	}
	char *search = search_text(name, fv);
	char *grams = crm_grams(search);
	size_t i;

	json_array_append_new(u->batch, json_pack("{s:s, s:s, s:s, s:O, s:s, s:s}", "id", id,
	                      "name", name, "tier", tier, "fields", fv, "search", search, "grams", grams));
	json_array_foreach(phones, i, v)
		json_array_append_new(u->pbatch, json_pack("{s:s, s:O, s:I}", "c", id, "p", v,
		                      "o", (json_int_t)i + 1));
	u->n_vip += strcmp(tier, "vip") == 0;
	free(search);
	free(grams);
	if (json_array_size(u->batch) >= CRM_IMPORT_BATCH)
		flush_batch(u);
out:
	free(err);
	json_decref(fv);
	json_decref(phones);
}

static void on_record(struct bl_csv_reader *p, char *const *f, size_t n, bool too_many,
                      unsigned line, void *arg)
{
	struct import *u = arg;

	(void)line;                   /* bl_csv_error names it */
	if (u->csv.rows == 0)         /* the reader counts rows after the header */
		import_header(u, p, f, n, too_many);
	else
		import_row(u, p, f, n, too_many);
}

static void import_data(struct tn_req *r, const char *buf, size_t len);
static void import_end(struct tn_req *r);
static void import_release(struct tn_req *r);
static const struct tn_upload import_ops = { import_data, import_end, import_release };

/* the handler: before the body, the tenant's fields (the header is
 * checked against them) */
static void import(struct tn_req *r)
{
	struct import *u;

	if (!import_lock(r->tenant.id))
		return tn_error(r, 503, "unavailable", NULL,
		                "another customer import of this tenant is running; retry when it has ended");
	u = calloc(1, sizeof(*u));
	CC_BUG_ON(!u);
	if (load_decls(r, &u->d) != CC_OK) {
		import_unlock(r->tenant.id);
		free(u);
		return;
	}
	u->batch = json_array();
	u->pbatch = json_array();
	u->batches = json_array();
	u->reader = bl_csv_begin_records(&u->csv, on_record, u);
	r->upload = u;
	r->upload_ops = &import_ops;
}

static void import_data(struct tn_req *r, const char *buf, size_t len)
{
	struct import *u = r->upload;

	if (u->refused)
		return;
	u->bytes += len;
	if (u->bytes > CRM_IMPORT_BYTES_MAX) {
		u->refused = true;
		return tn_error(r, 413, "payload_too_large", NULL, "the body is over %d bytes",
		                CRM_IMPORT_BYTES_MAX);
	}
	bl_csv_feed(u->reader, buf, len);
}

/* The storing, on a worker (tn_offload): one transaction on a connection
 * of its own. */
struct import_job {
	struct cc_pg pg;
	struct tenantd *d;            /* the notice and the lock need no request: */
	char tenant[CC_UUID_LEN];     /* the client may have gone */
	json_t *batches;
	size_t rows, n_vip;
	const char *stage;            /* NULL when committed, else what failed */
	char *err;
	bool vip_over;                /* refused: too many vip numbers */
};

static void import_work(void *arg)
{
	struct import_job *j = arg;
	size_t i;
	json_t *b;

	if (cc_pg_cmd(&j->pg, "BEGIN", 0, NULL) != CC_OK) {
		j->stage = "BEGIN";
		goto fail;
	}
	json_array_foreach(j->batches, i, b) {
		const char *p[2] = { j->tenant, json_string_value(json_array_get(b, 0)) };

		if (cc_pg_cmd(&j->pg, "INSERT INTO cc.customers (id, tenant_id, name, tier, fields, search, "
		              "grams) SELECT t.id, $1, t.name, t.tier, t.fields, t.search, t.grams::tsvector "
		              "FROM jsonb_to_recordset($2::jsonb) AS t(id uuid, name text, tier text, "
		              "fields jsonb, search text, grams text)", 2, p) != CC_OK) {
			j->stage = "customers";
			goto fail;
		}
		p[1] = json_string_value(json_array_get(b, 1));
		if (cc_pg_cmd(&j->pg, "INSERT INTO cc.customer_phones (tenant_id, phone, customer_id, "
		              "position) SELECT $1, t.p, t.c, t.o FROM jsonb_to_recordset($2::jsonb) "
		              "AS t(c uuid, p text, o integer)", 2, p) != CC_OK) {
			j->stage = "phones";
			goto fail;
		}
	}
	if (j->n_vip && vip_cap(&j->pg, j->tenant, &j->vip_over) != CC_OK) {
		j->stage = j->vip_over ? "too many vip numbers" : "vip numbers";
		goto fail;
	}
	if (cc_pg_cmd(&j->pg, "COMMIT", 0, NULL) == CC_OK)
		return;
	j->stage = "COMMIT";
fail:
	j->err = j->pg.message ? strdup(j->pg.message) : NULL;
}

static void import_done(struct tn_req *r, void *arg)
{
	struct import_job *j = arg;

	/* the storing is done whether or not the client waited for it */
	if (j->vip_over)
		CC_INFO("customer import of tenant %s refused: over %d vip numbers", j->tenant,
		        CRM_VIP_NUMBERS_MAX);
	else if (j->stage)
		CC_ERR("customer import of tenant %s: %s: %s", j->tenant, j->stage, j->err ? j->err : "?");
	else if (j->n_vip)
		tn_notify(j->d, j->tenant, "viplist", NULL);
	if (!r)                       /* a warning: the client may well send it again */
		CC_WARN("customer import of tenant %s: %s (%zu rows), its client gone", j->tenant,
		        j->stage ? "failed" : "committed", j->rows);
	else if (j->vip_over) {
		tn_error(r, 422, "invalid_argument", "tier", "the tenant's vip customers may have at most "
		         "%d numbers between them; nothing was imported", CRM_VIP_NUMBERS_MAX);
	} else if (j->stage) {
		if (j->pg.error == CC_PG_INVALID)
			tn_error(r, 422, "invalid_argument", NULL,
			         "the database refused a value of the file; nothing was imported");
		else
			tn_error(r, 503, "unavailable", NULL, "the database refused the import; retry later");
	} else {
		tn_reply(r, 201, json_pack("{s:I}", "imported", (json_int_t)j->rows));
	}
	import_unlock(j->tenant);
	cc_pg_close(&j->pg);          /* rolls back whatever was not committed */
	json_decref(j->batches);
	free(j->err);
	free(j);
}

static void import_end(struct tn_req *r)
{
	struct import *u = r->upload;
	int parsed = bl_csv_end(u->reader);
	struct import_job *j;

	u->reader = NULL;
	if (parsed != CC_OK) {
		json_t *e = json_pack("{s:s, s:s, s:I, s:I, s:O}", "code", "invalid_csv",
		                      "message", "the file has bad lines; nothing was imported",
		                      "bad_lines", (json_int_t)u->csv.n_errors,
		                      "rows", (json_int_t)u->csv.rows, "lines", u->csv.errors);
		return tn_reply(r, 422, json_pack("{s:o}", "error", e));
	}
	flush_batch(u);
	j = calloc(1, sizeof(*j));
	CC_BUG_ON(!j);
	cc_pg_init(&j->pg, r->d->cfg.pg_url);
	j->d = r->d;
	snprintf(j->tenant, sizeof(j->tenant), "%s", r->tenant.id);
	j->batches = u->batches;
	u->batches = NULL;
	j->rows = u->csv.rows;
	j->n_vip = u->n_vip;
	tn_offload(r, import_work, import_done, j);   /* import_done lets the next import in */
	u->refused = true;            /* import_release: the job holds the tenant's lock now */
}

static void import_release(struct tn_req *r)
{
	struct import *u = r->upload;

	if (!u)
		return;
	if (u->reader)
		bl_csv_end(u->reader);
	if (u->batches)               /* not handed to a job */
		import_unlock(r->tenant.id);
	bl_csv_result_free(&u->csv);
	json_decref(u->batch);
	json_decref(u->pbatch);
	json_decref(u->batches);
	free(u);
	r->upload = NULL;
}

const struct tn_route tn_customer_routes[] = {
	{ "POST", "/v1/tenants/{slug}/customers", TN_TENANT, fields, create, false, false },
	{ "GET", "/v1/tenants/{slug}/customers", TN_TENANT, NULL, list, false, false },
	{ "GET", "/v1/tenants/{slug}/customers/{id}", TN_TENANT, NULL, get, false, false },
	{ "PATCH", "/v1/tenants/{slug}/customers/{id}", TN_TENANT, fields, patch, true, false },
	{ "DELETE", "/v1/tenants/{slug}/customers/{id}", TN_TENANT, NULL, remove_customer, false, false },
	{ "POST", "/v1/tenants/{slug}/customers/import", TN_TENANT, NULL, import, false, true },
	{ "GET", "/v1/tenants/{slug}/customers/{id}/calls", TN_TENANT, NULL, customer_calls, false, false },
	{ "GET", "/v1/tenants/{slug}/lookup", TN_TENANT, NULL, lookup, false, false },
	{ "GET", "/v1/tenants/{slug}/customer-fields", TN_TENANT, NULL, get_decls, false, false },
	{ "PUT", "/v1/tenants/{slug}/customer-fields", TN_TENANT, decl_fields, put_decls, false, false },
	{ NULL, NULL, 0, NULL, NULL, false, false },
};
