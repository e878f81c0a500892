import { CreateDestinationSchema, UpdateDestinationSchema } from './destination.schemas';

describe('destination bodies: line breaks and control characters', () => {
  it('refuses them in a name or a URL (a URL parser would silently drop them)', () => {
    expect(CreateDestinationSchema.safeParse({ destination_url: 'https://siem.example.com/a\r\nb' }).success).toBe(
      false,
    );
    expect(UpdateDestinationSchema.safeParse({ name: 'siem\nprod' }).success).toBe(false);
  });

  it('accepts any Unicode text in a name', () => {
    expect(
      CreateDestinationSchema.safeParse({ destination_url: 'https://siem.example.com', name: 'SIEM 😀 \u200fשלום' })
        .success,
    ).toBe(true);
  });
});
