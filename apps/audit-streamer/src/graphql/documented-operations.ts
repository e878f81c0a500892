/*
 * The GraphQL operations as the streaming API documents them; only the URL, group path
 * and ids are parameters. Shared by the unit tests of the limits and the integration test.
 */
export const documentedOperations = {
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
