import { HttpException, HttpStatus } from '@nestjs/common';

/**
 * Base class of every error this library throws on a request path. It is an HttpException so that Nest answers
 * with its status and a `{ statusCode, error, message }` body; outside HTTP it is a plain Error with a message that
 * says what happened, for which context or tenant, and how to fix it.
 */
export class TenancyError extends HttpException {
  constructor(message: string, status: HttpStatus, error: string) {
    super({ statusCode: status, error, message }, status);
    this.name = new.target.name;
  }
}
