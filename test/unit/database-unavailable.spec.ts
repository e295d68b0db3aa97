import { DriverException } from '@mikro-orm/core';
import { DatabaseUnavailableError, databaseUnavailableReason } from '../../src/index.js';

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

describe('databaseUnavailableReason', () => {
  it.each([
    [withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED'), 'the server refused the connection'],
    [withCode('terminating connection due to administrator command', '57P01'), 'the server is shutting down'],
    [withCode('the database system is starting up', '57P03'), 'the server is starting up or shutting down'],
    [withCode('sorry, too many clients already', '53300'), 'the server has too many connections'],
    [withCode('connection failure', '08006'), 'the connection failed'],
    [withCode('database "tenant_gone" does not exist', '3D000'), 'the database does not exist'],
    [withCode('password authentication failed for user "app"', '28P01'), 'the server rejected the credentials'],
    [new Error('timeout exceeded when trying to connect'), 'no pooled connection became free within the connection timeout'],
    [new Error('Connection terminated unexpectedly'), 'the connection was lost'],
    [new Error('Client has encountered a connection error and is not queryable'), 'the connection was lost'],
    // MikroORM wraps driver errors; the socket error may also sit in `cause`
    [new DriverException(withCode('connect ECONNRESET', 'ECONNRESET')), 'the connection was reset'],
    [new Error('query failed', { cause: withCode('connect ECONNREFUSED', 'ECONNREFUSED') }), 'the server refused the connection'],
    // a plain object (an error from another realm) is read by its fields
    [{ message: 'connect ECONNREFUSED', code: 'ECONNREFUSED' }, 'the server refused the connection'],
  ])('%s → %s', (error, reason) => {
    expect(databaseUnavailableReason(error)).toBe(reason);
  });

  it.each([
    withCode('duplicate key value violates unique constraint "note_pkey"', '23505'),
    withCode('relation "note" does not exist', '42P01'),
    withCode('syntax error at or near "selec"', '42601'),
    // class 08 raised as a plain ERROR on a live session: the statement failed to reach ANOTHER server
    Object.assign(withCode('could not connect to the publisher: connection to server failed', '08006'), { severity: 'ERROR' }),
    new DriverException(Object.assign(withCode('could not connect to the publisher', '08006'), { severity: 'ERROR' })),
    new TypeError('Cannot read properties of undefined'),
    'a string',
    undefined,
  ])('leaves %s alone', (error) => {
    expect(databaseUnavailableReason(error)).toBeUndefined();
  });
});

describe('DatabaseUnavailableError', () => {
  it('is a 503 naming the reason and tenant, with the driver error kept as cause', () => {
    const cause = withCode('connect ECONNREFUSED 10.0.0.5:5432', 'ECONNREFUSED');
    const error = new DatabaseUnavailableError('the server refused the connection', 'acme', cause);
    expect(error.getStatus()).toBe(503);
    expect(error.message).toMatch(/^The database is unavailable: the server refused the connection \(tenant 'acme'\)\. The request was not completed; retry later\./);
    expect(error.message).not.toContain('10.0.0.5'); // no host or port in what clients see
    expect(error.cause).toBe(cause);
  });
});
