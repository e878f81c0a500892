/*
 * The operations of seed 001 (the streaming documentation) as it writes them; only the URL, group path
 * and ids are parameters. Shared by the unit tests of the limits and the integration test.
 */
export const seed001 = {
  createDestination: (url: string, groupPath: string) => `mutation {
  externalAuditEventDestinationCreate(input: { destinationUrl: "${url}", groupPath: "${groupPath}" } ) {
    errors
    externalAuditEventDestination {
      destinationUrl
      verificationToken
      group {
        name
      }
    }
  }
}`,
  listDestinations: (groupPath: string) => `query {
  group(fullPath: "${groupPath}") {
    id
    externalAuditEventDestinations {
      nodes {
        destinationUrl
        verificationToken
        id
      }
    }
  }
}`,
  destroyDestination: (destinationId: string) => `mutation {
  externalAuditEventDestinationDestroy(input: { id: "${destinationId}" }) {
    errors
  }
}`,
  createHeader: (destinationId: string, key = 'foo', value = 'bar') => `mutation {
  auditEventsStreamingHeadersCreate(input: { destinationId: "${destinationId}", key: "${key}", value: "${value}" }) {
    errors
  }
}`,
  updateHeader: (headerId: string, key = 'new-foo', value = 'new-bar') => `mutation {
  auditEventsStreamingHeadersUpdate(input: { headerId: "${headerId}", key: "${key}", value: "${value}" }) {
    errors
  }
}`,
  destroyHeader: (headerId: string) => `mutation {
  auditEventsStreamingHeadersDestroy(input: { headerId: "${headerId}" }) {
    errors
  }
}`,
  listHeaders: (groupPath: string) => `query {
  group(fullPath: "${groupPath}") {
    id
    externalAuditEventDestinations {
      nodes {
        destinationUrl
        id
        headers {
          nodes {
            key
            value
            id
          }
        }
      }
    }
  }
}`,
};
