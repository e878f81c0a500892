import { clientErrorResponse } from './client-errors';

describe('clientErrorResponse', () => {
  it('answers an oversized request line or header block with a problem+json 431', () => {
    const response = clientErrorResponse('HPE_HEADER_OVERFLOW');
    expect(response).toMatch(/^HTTP\/1\.1 431 Request Header Fields Too Large\r\n/);
    expect(response).toContain('Content-Type: application/problem+json\r\n');
    const [head, body] = response.split('\r\n\r\n');
    expect(head).toContain(`Content-Length: ${Buffer.byteLength(body)}`);
    expect(JSON.parse(body)).toMatchObject({ status: 431, errors: [{ field: 'headers' }] });
  });

  it('answers a request not received in time (headers or body) with a problem+json 408 that closes the connection', () => {
    const response = clientErrorResponse('ERR_HTTP_REQUEST_TIMEOUT');
    expect(response).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(response).toContain('Connection: close\r\n');
    expect(JSON.parse(response.split('\r\n\r\n')[1])).toMatchObject({
      status: 408,
      title: 'Request Timeout',
      errors: [{ field: 'request' }],
    });
  });

  it('answers any other parser refusal with a 400', () => {
    expect(JSON.parse(clientErrorResponse('HPE_INVALID_METHOD').split('\r\n\r\n')[1])).toMatchObject({
      status: 400,
      title: 'Bad Request',
    });
  });
});
