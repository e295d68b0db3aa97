import { HttpException, HttpStatus } from '@nestjs/common';

/** Extra settings of a TenancyError. */
export interface TenancyErrorOptions {
  cause?: unknown;
  /**
   * Whether an HTTP client may read the message. Default: true for 4xx/503 (written for clients: they say what to
   * send or when to retry), false otherwise (set-up, lifecycle and migration errors may name databases or carry SQL
   * messages: a client that reaches one gets a generic 500 body, the message stays for logs and the CLI).
   */
  clientVisible?: boolean;
}

/**
 * Base class of every error this library throws: catch `TenancyError` for all of them. Each message says what
 * happened, for which context or tenant, and how to fix it. It is an HttpException, so that errors that can reach
 * a client (invalid or unknown tenant, suspended, unavailable...) answer with their status and a
 * `{ statusCode, error, message }` body under any Nest exception filter; the others answer a generic 500.
 */
export class TenancyError extends HttpException {
  constructor(message: string, status: HttpStatus = HttpStatus.INTERNAL_SERVER_ERROR, error = 'Internal Server Error', options: TenancyErrorOptions = {}) {
    const visible = options.clientVisible ?? (status < 500 || status === HttpStatus.SERVICE_UNAVAILABLE);
    super(visible ? { statusCode: status, error, message } : { statusCode: status, error, message: 'Internal server error' }, status, { cause: options.cause });
    this.message = message;
    this.name = new.target.name;
  }
}
