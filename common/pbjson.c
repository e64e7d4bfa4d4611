/* protobuf-c -> JSON through the descriptors; see pbjson.h for the mapping. */
#include "pbjson.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Length of the well-formed UTF-8 sequence at s (at most left bytes), or 0. */
static size_t utf8_seq_len(const unsigned char *s, size_t left)
{
	unsigned char c = s[0];
	if (c >= 0x01 && c < 0x80)
		return 1;
	size_t len;
	uint32_t min, cp;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		min = 0x80;
		cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		min = 0x800;
		cp = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		min = 0x10000;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (len > left)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

bool pbjson_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < len;) {
		size_t l = utf8_seq_len(p + i, len - i);
		if (!l)
			return false;
		i += l;
	}
	return true;
}

size_t pbjson_utf8_sanitize(char *out, size_t n, const char *s, size_t len)
{
	static const char replacement[] = "\xef\xbf\xbd";
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0;
	if (n == 0)
		return 0;
	for (size_t i = 0; i < len;) {
		size_t l = utf8_seq_len(p + i, len - i);
		const char *src = l ? s + i : replacement;
		size_t sl = l ? l : 3;
		if (o + sl + 1 > n)
			break;
		memcpy(out + o, src, sl);
		o += sl;
		i += l ? l : 1;
	}
	out[o] = '\0';
	return o;
}

json_t *pbjson_string(const char *s)
{
	if (!s)
		s = "";
	size_t len = strlen(s);
	if (pbjson_utf8_valid(s, len))
		return json_stringn(s, len);
	size_t cap = len * 3 + 1;
	char *fixed = malloc(cap);
	if (!fixed)
		return NULL;
	size_t fl = pbjson_utf8_sanitize(fixed, cap, s, len);
	json_t *j = json_stringn(fixed, fl);
	free(fixed);
	return j;
}

static json_t *bytes_value(const ProtobufCBinaryData *b)
{
	static const char digits[] = "0123456789abcdef";
	char *hex = malloc(b->len * 2 + 1);
	if (!hex)
		return NULL;
	for (size_t i = 0; i < b->len; i++) {
		hex[2 * i] = digits[b->data[i] >> 4];
		hex[2 * i + 1] = digits[b->data[i] & 15];
	}
	hex[2 * b->len] = '\0';
	json_t *j = json_stringn(hex, b->len * 2);
	free(hex);
	return j;
}

static json_t *double_value(double d)
{
	if (!isfinite(d))
		return json_null();
	return json_real(d);
}

json_t *pbjson_u64(uint64_t v)
{
	if (v > (uint64_t)INT64_MAX)
		return json_real((double)v);
	return json_integer((json_int_t)v);
}

static json_t *message_value(const ProtobufCMessage *msg, unsigned flags, int depth);

/* One scalar/message element at p (field storage of one value). */
static json_t *element_value(const ProtobufCFieldDescriptor *f, const void *p, unsigned flags,
			     int depth)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		return json_integer(*(const int32_t *)p);
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return json_integer(*(const uint32_t *)p);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		return json_integer(*(const int64_t *)p);
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return pbjson_u64(*(const uint64_t *)p);
	case PROTOBUF_C_TYPE_FLOAT:
		return double_value(*(const float *)p);
	case PROTOBUF_C_TYPE_DOUBLE:
		return double_value(*(const double *)p);
	case PROTOBUF_C_TYPE_BOOL:
		return json_boolean(*(const protobuf_c_boolean *)p);
	case PROTOBUF_C_TYPE_ENUM: {
		int v = *(const int *)p;
		const ProtobufCEnumValue *ev =
			protobuf_c_enum_descriptor_get_value(f->descriptor, v);
		return ev ? json_string(ev->name) : json_integer(v);
	}
	case PROTOBUF_C_TYPE_STRING:
		return pbjson_string(*(char *const *)p);
	case PROTOBUF_C_TYPE_BYTES:
		return bytes_value(p);
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)p;
		return sub ? message_value(sub, flags, depth + 1) : json_null();
	}
	}
	return NULL;
}

static size_t element_size(ProtobufCType type)
{
	switch (type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return 4;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return 8;
	case PROTOBUF_C_TYPE_FLOAT:
		return sizeof(float);
	case PROTOBUF_C_TYPE_DOUBLE:
		return sizeof(double);
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_ENUM:
		return sizeof(int);
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	}
	return 0;
}

/* True when the singular value at p is its proto3 default. */
static bool is_default(const ProtobufCFieldDescriptor *f, const void *p)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(char *const *)p;
		return !s || !*s;
	}
	case PROTOBUF_C_TYPE_BYTES:
		return ((const ProtobufCBinaryData *)p)->len == 0;
	case PROTOBUF_C_TYPE_MESSAGE:
		return *(const void *const *)p == NULL;
	case PROTOBUF_C_TYPE_FLOAT:
		return *(const float *)p == 0;
	case PROTOBUF_C_TYPE_DOUBLE:
		return *(const double *)p == 0;
	default: {
		size_t sz = element_size(f->type);
		static const uint8_t zero[8];
		return memcmp(p, zero, sz) == 0;
	}
	}
}

static int add_field(json_t *obj, const ProtobufCMessage *msg, const ProtobufCFieldDescriptor *f,
		     unsigned flags, int depth)
{
	const char *base = (const char *)msg;
	const void *p = base + f->offset;
	json_t *v;

	if (f->label == PROTOBUF_C_LABEL_REPEATED) {
		size_t n = *(const size_t *)(base + f->quantifier_offset);
		if (n == 0 && !(flags & PBJSON_EMIT_DEFAULTS))
			return 0;
		const char *arr = *(const char *const *)p;
		size_t sz = element_size(f->type);
		v = json_array();
		if (!v)
			return -1;
		for (size_t i = 0; i < n; i++) {
			json_t *e = element_value(f, arr + i * sz, flags, depth);
			if (!e || json_array_append_new(v, e)) {
				json_decref(v);
				return -1;
			}
		}
		return json_object_set_new_nocheck(obj, f->name, v) ? -1 : 0;
	}
	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
		uint32_t which = *(const uint32_t *)(base + f->quantifier_offset);
		if (which != f->id)
			return 0;
	} else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->quantifier_offset &&
		   f->type != PROTOBUF_C_TYPE_MESSAGE && f->type != PROTOBUF_C_TYPE_STRING) {
		if (!*(const protobuf_c_boolean *)(base + f->quantifier_offset))
			return 0;
	} else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
		if (!*(const void *const *)p)
			return 0;
	} else if (f->label == PROTOBUF_C_LABEL_NONE && !(flags & PBJSON_EMIT_DEFAULTS) &&
		   is_default(f, p)) {
		return 0;
	}
	v = element_value(f, p, flags, depth);
	if (!v)
		return -1;
	return json_object_set_new_nocheck(obj, f->name, v) ? -1 : 0;
}

static json_t *message_value(const ProtobufCMessage *msg, unsigned flags, int depth)
{
	if (depth > PBJSON_MAX_DEPTH)
		return NULL;
	const ProtobufCMessageDescriptor *d = msg->descriptor;
	if (!d || d->magic != PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC)
		return NULL;
	json_t *obj = json_object();
	if (!obj)
		return NULL;
	for (unsigned i = 0; i < d->n_fields; i++) {
		if (add_field(obj, msg, &d->fields[i], flags, depth)) {
			json_decref(obj);
			return NULL;
		}
	}
	return obj;
}

json_t *pbjson_from_message(const ProtobufCMessage *msg, unsigned flags)
{
	if (!msg)
		return NULL;
	return message_value(msg, flags, 0);
}

char *pbjson_dumps(const ProtobufCMessage *msg, unsigned flags, int indent)
{
	json_t *j = pbjson_from_message(msg, flags);
	if (!j)
		return NULL;
	size_t jflags = JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15);
	if (indent > 0)
		jflags |= JSON_INDENT(indent > 31 ? 31 : indent);
	else
		jflags |= JSON_COMPACT;
	char *s = json_dumps(j, jflags);
	json_decref(j);
	return s;
}
