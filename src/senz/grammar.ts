/*
 * The Senz message grammar of seed document 000 (scpp_python_node):
 *
 *   CMD (#attr [value] | $attr [value])* @receiver* [#time t] ^sender SIGNATURE
 *
 * one message per UDP datagram, plain ASCII, tokens separated by whitespace.
 * An attribute's value is the next token unless that token starts with `#`,
 * `$`, `@` or `^`; tokens may come in any order, except that `^sender` is
 * followed by the signature and nothing else. The signature covers the
 * message with all whitespace removed, every token up to and including
 * `^sender` (the original clients sign `"".join(senz.split())`).
 *
 * Differences from the original parsers, on purpose: each parse builds a new
 * attribute map (the original `Senz` class shared one mutable dict between
 * instances), an attribute at the end of the tokens is an attribute without a
 * value (the original raised IndexError reading past the list), and every
 * malformed message is a {@link SenzParseError} with a reason instead of a
 * half-filled object.
 */

/** The commands of document 000. */
export const SENZ_COMMANDS = ['SHARE', 'UNSHARE', 'GET', 'PUT', 'DATA', 'DELETE'] as const;
export type SenzCommand = (typeof SENZ_COMMANDS)[number];

/** The attribute carrying the message time, unix seconds (document 000: `#time timeOfRequest`). */
export const TIME_ATTRIBUTE = 'time';
/** Longest user or attribute name, characters. */
export const MAX_NAME_LENGTH = 64;
/** Most attributes in one message. */
export const MAX_ATTRIBUTES = 32;
/** Most receivers of one message. */
export const MAX_RECEIVERS = 16;
/** Names of users and attributes: letters, digits, `_`, `-` and `.` (never a sigil, never whitespace). */
export const NAME_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
/** A signature token: standard base64 (RSA PKCS#1 v1.5 or ed25519 signatures). */
export const SIGNATURE_PATTERN = /^[A-Za-z0-9+/]+={0,2}$/;

/** One attribute: `#name value`, `#name`, or a protected `$name [value]`. */
export interface SenzAttribute {
  name: string;
  /** The value token, or undefined when the attribute has none. */
  value: string | undefined;
  /** True for `$name` (document 000's protected attributes). */
  protected: boolean;
}

/** A parsed Senz message. */
export interface SenzMessage {
  command: SenzCommand;
  /** Attributes in message order (the `#time` attribute included); names are unique. */
  attributes: SenzAttribute[];
  /** Receivers (`@name`), in order, without duplicates; the switch's own replies have none. */
  receivers: string[];
  /** The `^sender` name. */
  sender: string;
  /** Base64 signature token. */
  signature: string;
  /** The bytes the signature covers: every token up to and including `^sender`, whitespace removed (ASCII). */
  signedText: string;
}

/** Why a datagram is not a Senz message. */
export type SenzParseErrorReason =
  | 'not-ascii'
  | 'empty'
  | 'unknown-command'
  | 'no-sender'
  | 'no-signature'
  | 'trailing-tokens'
  | 'duplicate-sender'
  | 'bad-name'
  | 'duplicate-attribute'
  | 'too-many-attributes'
  | 'too-many-receivers'
  | 'bad-signature-encoding'
  | 'stray-value';

/** A malformed Senz message; `code` names the rule it breaks. */
export class SenzParseError extends Error {
  override readonly name = 'SenzParseError';
  readonly code = 'ERR_SENZ_PARSE';
  constructor(
    readonly reason: SenzParseErrorReason,
    message: string,
  ) {
    super(message);
  }
}

const SIGILS = new Set(['#', '$', '@', '^']);

function isPrintableAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // tab, LF, CR and printable ASCII; anything else (NUL, DEL, non-ASCII) is refused
    if (c > 126 || (c < 32 && c !== 9 && c !== 10 && c !== 13)) return false;
  }
  return true;
}

function checkName(name: string, what: string): void {
  if (!NAME_PATTERN.test(name)) throw new SenzParseError('bad-name', `${what} must be 1–${MAX_NAME_LENGTH} characters of A-Z a-z 0-9 _ . -, got ${JSON.stringify(name.slice(0, 80))}`);
}

/**
 * Parses one Senz message (document 000's grammar, see the file comment).
 * @throws SenzParseError with the code of the first rule the text breaks.
 */
export function parseSenz(text: string): SenzMessage {
  if (!isPrintableAscii(text)) throw new SenzParseError('not-ascii', 'a Senz message is printable ASCII');
  const tokens = text.split(/[ \t\r\n]+/).filter((t) => t !== '');
  if (tokens.length === 0) throw new SenzParseError('empty', 'empty message');
  const command = tokens[0]!.toUpperCase();
  if (!(SENZ_COMMANDS as readonly string[]).includes(command)) {
    throw new SenzParseError('unknown-command', `the first token must be one of ${SENZ_COMMANDS.join(', ')}, got ${JSON.stringify(tokens[0]!.slice(0, 40))}`);
  }
  const senderAt = tokens.findIndex((t) => t.startsWith('^'));
  if (senderAt < 0) throw new SenzParseError('no-sender', 'no ^sender token');
  if (tokens.findIndex((t, i) => i > senderAt && t.startsWith('^')) >= 0) throw new SenzParseError('duplicate-sender', 'more than one ^sender token');
  if (senderAt === tokens.length - 1) throw new SenzParseError('no-signature', 'no signature after ^sender');
  if (senderAt < tokens.length - 2) throw new SenzParseError('trailing-tokens', 'the signature must be the last token, right after ^sender');
  const sender = tokens[senderAt]!.slice(1);
  checkName(sender, 'the sender');
  const signature = tokens[senderAt + 1]!;
  if (!SIGNATURE_PATTERN.test(signature) || signature.length % 4 !== 0) throw new SenzParseError('bad-signature-encoding', 'the signature must be standard base64');

  const attributes: SenzAttribute[] = [];
  const receivers: string[] = [];
  const seen = new Set<string>();
  for (let i = 1; i < senderAt; i++) {
    const token = tokens[i]!;
    const sigil = token[0]!;
    if (sigil === '#' || sigil === '$') {
      const name = token.slice(1);
      checkName(name, 'an attribute name');
      if (seen.has(name)) throw new SenzParseError('duplicate-attribute', `attribute ${JSON.stringify(name)} appears twice`);
      seen.add(name);
      if (attributes.length >= MAX_ATTRIBUTES) throw new SenzParseError('too-many-attributes', `more than ${MAX_ATTRIBUTES} attributes`);
      const next = i + 1 < senderAt ? tokens[i + 1]! : undefined;
      const value = next !== undefined && !SIGILS.has(next[0]!) ? next : undefined;
      if (value !== undefined) i++;
      attributes.push({ name, value, protected: sigil === '$' });
    } else if (sigil === '@') {
      const name = token.slice(1);
      checkName(name, 'a receiver');
      if (!receivers.includes(name)) {
        if (receivers.length >= MAX_RECEIVERS) throw new SenzParseError('too-many-receivers', `more than ${MAX_RECEIVERS} receivers`);
        receivers.push(name);
      }
    } else {
      throw new SenzParseError('stray-value', `token ${JSON.stringify(token.slice(0, 40))} is neither an attribute, a value nor a receiver`);
    }
  }
  const signedText = tokens.slice(0, senderAt + 1).join('');
  return { command: command as SenzCommand, attributes, receivers, sender, signature, signedText };
}

/**
 * The bytes a Senz signature covers: `text` (the message without its
 * signature) with every whitespace character removed (document 000).
 */
export function signingText(unsigned: string): string {
  return unsigned.replace(/[ \t\r\n]+/g, '');
}

/** The attribute `name` of a message, if present. */
export function attribute(msg: Pick<SenzMessage, 'attributes'>, name: string): SenzAttribute | undefined {
  return msg.attributes.find((a) => a.name === name);
}

/** The value of attribute `name`, or undefined when absent or without a value. */
export function attributeValue(msg: Pick<SenzMessage, 'attributes'>, name: string): string | undefined {
  return attribute(msg, name)?.value;
}

/** Attribute names that sharing rules are about: every attribute except `#time`, which dates the message. */
export function sharedAttributeNames(msg: Pick<SenzMessage, 'attributes'>): string[] {
  return msg.attributes.filter((a) => a.name !== TIME_ATTRIBUTE).map((a) => a.name);
}

/** What {@link formatSenz} writes: a message before its `^sender` and signature. */
export interface SenzDraft {
  command: SenzCommand;
  /** `[name, value]` pairs; a value of undefined writes `#name` alone. Values must be single tokens that do not start with a sigil. */
  attributes: ReadonlyArray<readonly [string, string | undefined]>;
  receivers?: readonly string[];
}

/**
 * Writes a draft as text without `^sender` and signature: `CMD #a v #b @r`.
 * @throws SenzParseError `bad-name` for a bad attribute or receiver name,
 *   `stray-value` for a value with whitespace or starting with a sigil.
 */
export function formatSenz(draft: SenzDraft): string {
  const parts: string[] = [draft.command];
  for (const [name, value] of draft.attributes) {
    checkName(name, 'an attribute name');
    parts.push(`#${name}`);
    if (value !== undefined) {
      if (value === '' || /[\s]/.test(value) || SIGILS.has(value[0]!)) throw new SenzParseError('stray-value', `attribute ${name}: value ${JSON.stringify(value.slice(0, 40))} is not one token without a leading sigil`);
      parts.push(value);
    }
  }
  for (const r of draft.receivers ?? []) {
    checkName(r, 'a receiver');
    parts.push(`@${r}`);
  }
  return parts.join(' ');
}
