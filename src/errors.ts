// Errors that carry what the caller should hear. Anything else is a 500 with a generic message.

/** An error whose message is safe to show: 4xx with a code and a message naming the problem. */
export class ClientError extends Error {
  readonly status: number;
  readonly code: string;
  readonly field: string | undefined;

  constructor(status: number, code: string, message: string, field?: string) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

export class ValidationError extends ClientError {
  constructor(field: string, message: string) {
    super(400, 'invalid_request', `${field}: ${message}`, field);
  }
}

export class NotFoundError extends ClientError {
  constructor(what: string) {
    super(404, 'not_found', `${what} not found`);
  }
}

export class ConflictError extends ClientError {
  constructor(field: string, message: string) {
    super(409, 'conflict', `${field}: ${message}`, field);
  }
}
