/**
 * The `DATA #msg <code>` replies of the switch (docs/senz.md lists when each
 * is sent). The first six are document 000's own words, byte for byte; the
 * others are cheesechain's, for cases the original left silent or crashed on.
 */
export const SWITCH_REPLY = {
  registrationDone: 'REGISTRATION_DONE',
  alreadyRegistered: 'ALREADY_REGISTERED',
  registrationFail: 'REGISTRATION_FAIL',
  userRemoved: 'UserRemoved',
  userCannotRemoved: 'UserCannotRemoved',
  signatureVerificationFailed: 'SignatureVerificationFailed',
  /** The datagram is not a Senz message; `#reason` carries the parse error code. */
  malformed: 'MalformedSenz',
  /** `#time` is missing (when required), malformed, or outside the window; `#reason` says which. */
  badTime: 'BadTime',
  /** A receiver is not registered; `#name` names it. */
  unknownReceiver: 'UnknownReceiver',
  /** A PUT, GET or DATA asks for attributes the receiver does not share with the sender; `#name` names the receiver. */
  notShared: 'NotShared',
  /** The switch's replay cache is full of unexpired signatures: try again later. */
  busy: 'Busy',
} as const;

export type SwitchReplyCode = (typeof SWITCH_REPLY)[keyof typeof SWITCH_REPLY];

/** The line the switch sends to keep a client's NAT mapping open (document 000: every 20 s). */
export const PING = 'PING';
