// The Riskshare identifier standard, version 1 (docs/identifiers.md), in the browser: a person's
// typed identifier becomes its member token here, and only the token leaves the page.
//
// It must give exactly the tokens of the Python standard (memberkit/identifiers.py). It covers
// resident identity numbers, unified social credit codes and mobile numbers. Where the Python
// standard leans on the phonenumbers library in ways this file does not reproduce (national
// prefixes, leading zeros, a Chinese number written with 86 but no +), it refuses with the
// reason "unsupported" rather than guess: the member client handles those. The browser tests check the
// documented test vectors and compare with Python on generated input.

export const VERSION = "rs1";
export const TYPES = ["cnid", "mobile", "uscc"];

export class InvalidIdentifier extends Error {
  constructor(reason, message) {
    super(message);
    this.reason = reason;
  }
}

// Python's str.isspace(), exactly (JavaScript's \s differs: it has U+FEFF and lacks U+001C-U+001F, U+0085).
const WHITESPACE = /[\t\n\v\f\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/gu;
const SEPARATORS = /[-./()]/g;

export function clean(raw) {
  return raw.normalize("NFKC").replace(WHITESPACE, "").replace(SEPARATORS, "").toUpperCase();
}

const CNID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CNID_CHECK = "10X98765432";

function cnidCheck(body) {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(body[i]) * CNID_WEIGHTS[i];
  return CNID_CHECK[sum % 11];
}

function localToday() {
  const now = new Date();
  return [now.getFullYear(), now.getMonth() + 1, now.getDate()];
}

function checkBirthDate(digits) {
  const [year, month, day] = [Number(digits.slice(0, 4)), Number(digits.slice(4, 6)), Number(digits.slice(6))];
  const date = new Date(Date.UTC(year, month - 1, day));
  const real = month >= 1 && month <= 12 && day >= 1 && date.getUTCFullYear() === year
    && date.getUTCMonth() === month - 1 && date.getUTCDate() === day && year >= 1;
  if (!real) throw new InvalidIdentifier("bad_date", `${digits} is not a date`);
  const [ty, tm, td] = localToday();
  const written = year * 10000 + month * 100 + day;
  if (written < 19000101 || written > ty * 10000 + tm * 100 + td) {
    throw new InvalidIdentifier("bad_date", "a birth date lies between 1900-01-01 and today");
  }
}

function cnid(text) {
  const length = [...text].length; // in code points, as Python counts
  if (length === 15) {
    if (!/^[0-9]+$/.test(text)) throw new InvalidIdentifier("bad_characters", "a 15-digit number has digits only");
    const body = text.slice(0, 6) + "19" + text.slice(6);
    text = body + cnidCheck(body);
  } else if (length !== 18) {
    throw new InvalidIdentifier("bad_length", "a resident identity number has 18 characters (or 15, the old form)");
  } else if (!/^[0-9]{17}[0-9X]$/.test(text)) {
    throw new InvalidIdentifier("bad_characters", "a resident identity number is 17 digits and a digit or X");
  } else if (cnidCheck(text) !== text[17]) {
    throw new InvalidIdentifier("bad_checksum", "the check character of this resident identity number is wrong");
  }
  checkBirthDate(text.slice(6, 14));
  return text;
}

const USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY";
const USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

function uscc(text) {
  if ([...text].length !== 18) throw new InvalidIdentifier("bad_length", "a unified social credit code has 18 characters");
  if (![...text].every((c) => USCC_ALPHABET.includes(c))) {
    throw new InvalidIdentifier("bad_characters", "a unified social credit code uses 0-9 and A-Y but I, O, S, V, Z");
  }
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += USCC_ALPHABET.indexOf(text[i]) * USCC_WEIGHTS[i];
  if (USCC_ALPHABET[(31 - (sum % 31)) % 31] !== text[17]) {
    throw new InvalidIdentifier("bad_checksum", "the check character of this code is wrong");
  }
  return text;
}

// What phonenumbers does with a national number whose start matches the country's national prefix
// pattern (stripping it, or not, by rules of its own) is not reproduced here: such a number is
// "unsupported". Every other number it leaves as it is, and then only its length decides.
function stripped(national, prefix) {
  return national.startsWith("0") || (prefix !== "" && new RegExp(`^(?:${prefix})`).test(national));
}

function chinese(national, phones) {
  const { lengths, prefix } = phones.codes["86"];
  if (stripped(national, prefix)) throw new InvalidIdentifier("unsupported", "a national prefix: use the member client");
  if (!lengths.includes(national.length)) {
    throw new InvalidIdentifier("bad_length", "no telephone number of that country has this many digits");
  }
  if (!(national.length === 11 && national.startsWith("1"))) {
    throw new InvalidIdentifier("not_mobile", "a Chinese mobile number has 11 digits and starts with 1");
  }
  return "+86" + national;
}

function mobile(text, phones) {
  if (text.startsWith("00")) text = "+" + text.slice(2);
  const digits = text.startsWith("+") ? text.slice(1) : text;
  if (!/^[0-9]+$/.test(digits)) throw new InvalidIdentifier("bad_characters", "a mobile number has digits, after an optional + or 00");
  if (!text.startsWith("+")) {
    // Without +, a Chinese number; one that starts with 86 phonenumbers may read as +86.
    if (digits.startsWith("86")) throw new InvalidIdentifier("unsupported", "write it with + or 00");
    return chinese(digits, phones);
  }
  const code = [1, 2, 3].map((n) => digits.slice(0, n)).find((prefix) => prefix in phones.codes);
  if (code === undefined) throw new InvalidIdentifier("bad_length", "no country has this calling code");
  const national = digits.slice(code.length);
  if (code === "86") return chinese(national, phones);
  const { lengths, prefix } = phones.codes[code];
  if (stripped(national, prefix)) throw new InvalidIdentifier("unsupported", "a national prefix: use the member client");
  if (!lengths.includes(national.length)) {
    throw new InvalidIdentifier("bad_length", "no telephone number of that country has this many digits");
  }
  return "+" + code + national;
}

const NORMALIZERS = { cnid, uscc, mobile };

// The canonical value of ``raw`` as an identifier of ``type``; ``phones`` is the table of
// /identifiers/phones.json, needed for mobile numbers only.
export function normalize(type, raw, phones) {
  const normalizer = NORMALIZERS[type];
  if (normalizer === undefined) throw new InvalidIdentifier("unknown_type", `unknown identifier type ${type}`);
  return normalizer(clean(raw), phones);
}

export function message(type, canonical) {
  return new TextEncoder().encode(`${VERSION}:${type}:${canonical}`);
}

// The consortium key, from the file members are given: 64 hexadecimal characters.
export async function importKey(text) {
  const hex = text.trim();
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new InvalidIdentifier("bad_key", "a consortium key file holds 64 hexadecimal characters");
  const bytes = new Uint8Array(hex.match(/../g).map((pair) => parseInt(pair, 16)));
  return crypto.subtle.importKey("raw", bytes, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
}

// The member token: lowercase hex HMAC-SHA256 of the message under the consortium key.
export async function memberToken(type, raw, key, phones) {
  const signature = await crypto.subtle.sign("HMAC", key, message(type, normalize(type, raw, phones)));
  return [...new Uint8Array(signature)].map((byte) => byte.toString(16).padStart(2, "0")).join("");
}

export async function loadPhones() {
  const response = await fetch("/identifiers/phones.json", { credentials: "same-origin" });
  return response.json();
}

let pagePhones = null;

// The member token of what a person typed, under the key file they selected: what the query and
// filing pages send. The phone table is fetched once per page.
export async function tokenFromFile(keyFile, type, raw) {
  const key = await importKey(await keyFile.text());
  pagePhones = pagePhones || (await loadPhones());
  return memberToken(type, raw, key, pagePhones);
}
