// The transactional messages (Next Identity's "Notify includes link and data for email trigger"):
// the mails that carry a link a brand may want to send itself. Each is announced as a `message.*`
// webhook event (which `*` does not include: the link is a secret), and an application's
// `message_delivery` can leave its sending to the brand entirely.
import type { MessageType } from '../hooks/catalog/events.ts';
import { ValidationError } from '../errors.ts';
import type { WebhookEventType } from '../webhooks/catalog.ts';

export const TRANSACTIONAL_MESSAGES = {
  activation: 'message.activation',
  'activation.resend': 'message.activation.resend',
  password_reset: 'message.password_reset',
  username: 'message.username',
  invitation: 'message.invitation',
  email_change: 'message.email_change',
} as const satisfies Partial<Record<MessageType, WebhookEventType>>;

export type TransactionalMessage = keyof typeof TRANSACTIONAL_MESSAGES;
const TYPES = Object.keys(TRANSACTIONAL_MESSAGES) as TransactionalMessage[];

/** Who sends a message: Tessera (the default), or the brand (from the `message.*` event or a hook). */
export type Sender = 'tessera' | 'brand';
/** An application's `message_delivery`: a sender per transactional message; absent means Tessera. */
export type MessageDelivery = Partial<Record<TransactionalMessage, Sender>>;

export function isTransactional(type: MessageType): type is TransactionalMessage {
  return Object.hasOwn(TRANSACTIONAL_MESSAGES, type);
}

/** Who sends `type` for an application with `delivery`: `activation` also covers its resend unless that is set. */
export function senderOf(delivery: MessageDelivery, type: MessageType): Sender {
  if (!isTransactional(type)) return 'tessera';
  return delivery[type] ?? (type === 'activation.resend' ? delivery.activation : undefined) ?? 'tessera';
}

/** The `message_delivery` of an application body: known message types only, each "tessera" or "brand". */
export function messageDeliveryInput(value: unknown): MessageDelivery {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ValidationError('message_delivery', `must be an object such as {"password_reset": "brand"} (keys: ${TYPES.join(', ')})`);
  }
  const out: MessageDelivery = {};
  for (const [key, sender] of Object.entries(value)) {
    if (!TYPES.includes(key as TransactionalMessage)) throw new ValidationError(`message_delivery.${key}`, `is not a transactional message; one of ${TYPES.join(', ')}`);
    if (sender !== 'tessera' && sender !== 'brand') throw new ValidationError(`message_delivery.${key}`, 'must be "tessera" or "brand"');
    out[key as TransactionalMessage] = sender;
  }
  return out;
}
