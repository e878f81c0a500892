import { applyDecorators, INestApplication } from '@nestjs/common';
import { ApiBody, ApiQuery, DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { SchemaObject } from '@nestjs/swagger/dist/interfaces/open-api-spec.interface';
import { z } from 'zod';
import { zodToJsonSchema } from 'zod-to-json-schema';

/*
 * OpenAPI from the same zod schemas that parse requests, so /docs shows exactly what is enforced.
 * Controllers declare bodies with @ApiZodBody and queries with @ApiZodQuery; routes, parameters and
 * the bearer scheme come from Nest's own scan.
 */
// The cast through `never` stops TypeScript from expanding zod's deep generic types (TS2589).
const toOpenApi = (schema: z.ZodTypeAny): SchemaObject =>
  zodToJsonSchema(schema as never, { target: 'openApi3', $refStrategy: 'none' }) as SchemaObject;

export const ApiZodBody = (schema: z.ZodTypeAny) => ApiBody({ schema: toOpenApi(schema) });

/** One query parameter per key of a zod object schema. */
export function ApiZodQuery(schema: z.AnyZodObject) {
  const json = toOpenApi(schema) as { properties?: Record<string, SchemaObject>; required?: string[] };
  return applyDecorators(
    ...Object.entries(json.properties ?? {}).map(([name, property]) =>
      ApiQuery({ name, schema: property, required: json.required?.includes(name) ?? false }),
    ),
  );
}

/** Serves the interactive documentation at /docs and the document itself at /docs-json. */
export function installOpenApi(app: INestApplication, title: string, description: string): void {
  const config = new DocumentBuilder()
    .setTitle(title)
    .setDescription(description)
    .setVersion('v4')
    .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' })
    .addSecurityRequirements('bearer')
    .build();
  SwaggerModule.setup('docs', app, () => SwaggerModule.createDocument(app, config), { jsonDocumentUrl: 'docs-json' });
}
