/*
 * The GraphQL schema of streaming destinations: the documented operations with GitLab's names for
 * types, arguments and result fields, so scripts written against GitLab work here unchanged (also
 * those that declare variables of GitLab's id scalar types). apps/audit-streamer/schema.graphql is
 * this, printed (print-schema.ts).
 */
export const typeDefs = /* GraphQL */ `
  # Descriptions of these two: the scalars in resolvers.ts.
  scalar AuditEventsExternalAuditEventDestinationID
  scalar AuditEventsStreamingHeaderID

  type Query {
    """
    A group by its full path; null when it does not exist or the caller has no role on it.
    """
    group(fullPath: ID!): Group
  }

  type Group {
    """
    \`gid://gitlab/Group/<id>\`.
    """
    id: ID!
    name: String!
    fullPath: ID!
    """
    The group's streaming destinations; only owners of a top-level group may read them (an error otherwise).
    """
    externalAuditEventDestinations: ExternalAuditEventDestinationConnection
  }

  type ExternalAuditEventDestinationConnection {
    nodes: [ExternalAuditEventDestination!]!
  }

  """
  An HTTP endpoint that receives every audit event of a top-level group, its subgroups and projects.
  """
  type ExternalAuditEventDestination {
    """
    \`gid://gitlab/AuditEvents::ExternalAuditEventDestination/<id>\`.
    """
    id: ID!
    name: String!
    destinationUrl: String!
    """
    Sent as \`X-Gitlab-Event-Streaming-Token\` with every streamed event; generated at creation.
    """
    verificationToken: String!
    """
    Audit event types streamed to this destination; empty means all.
    """
    eventTypeFilters: [String!]!
    """
    False after the streamer deactivated the destination (e.g. it answered 410 Gone); re-activated through REST.
    """
    active: Boolean!
    group: Group!
    """
    Custom HTTP headers sent with every streamed event (at most 20).
    """
    headers: AuditEventStreamingHeaderConnection!
  }

  type AuditEventStreamingHeaderConnection {
    nodes: [AuditEventStreamingHeader!]!
  }

  type AuditEventStreamingHeader {
    """
    \`gid://gitlab/AuditEvents::Streaming::Header/<id>\`.
    """
    id: ID!
    key: String!
    value: String!
  }

  """
  Every mutation answers 200 with \`errors\`: empty when the change was made, otherwise why it was refused
  (and nothing changed). A group the caller does not own is a top-level error instead.
  """
  type Mutation {
    externalAuditEventDestinationCreate(
      input: ExternalAuditEventDestinationCreateInput!
    ): ExternalAuditEventDestinationCreatePayload
    externalAuditEventDestinationDestroy(
      input: ExternalAuditEventDestinationDestroyInput!
    ): ExternalAuditEventDestinationDestroyPayload
    auditEventsStreamingHeadersCreate(
      input: AuditEventsStreamingHeadersCreateInput!
    ): AuditEventsStreamingHeadersCreatePayload
    auditEventsStreamingHeadersUpdate(
      input: AuditEventsStreamingHeadersUpdateInput!
    ): AuditEventsStreamingHeadersUpdatePayload
    auditEventsStreamingHeadersDestroy(
      input: AuditEventsStreamingHeadersDestroyInput!
    ): AuditEventsStreamingHeadersDestroyPayload
  }

  input ExternalAuditEventDestinationCreateInput {
    clientMutationId: String
    """
    Full path of the top-level group.
    """
    groupPath: ID!
    destinationUrl: String!
    """
    A name unique within the group; generated when omitted.
    """
    name: String
  }

  type ExternalAuditEventDestinationCreatePayload {
    clientMutationId: String
    errors: [String!]!
    externalAuditEventDestination: ExternalAuditEventDestination
    """
    The Standard Webhooks signing secret (\`whsec_...\`): shown only here, once.
    """
    signingSecret: String
  }

  input ExternalAuditEventDestinationDestroyInput {
    clientMutationId: String
    id: AuditEventsExternalAuditEventDestinationID!
  }

  type ExternalAuditEventDestinationDestroyPayload {
    clientMutationId: String
    errors: [String!]!
  }

  input AuditEventsStreamingHeadersCreateInput {
    clientMutationId: String
    destinationId: AuditEventsExternalAuditEventDestinationID!
    key: String!
    value: String!
  }

  type AuditEventsStreamingHeadersCreatePayload {
    clientMutationId: String
    errors: [String!]!
    header: AuditEventStreamingHeader
  }

  input AuditEventsStreamingHeadersUpdateInput {
    clientMutationId: String
    headerId: AuditEventsStreamingHeaderID!
    """
    A new key; at least one of key and value.
    """
    key: String
    value: String
  }

  type AuditEventsStreamingHeadersUpdatePayload {
    clientMutationId: String
    errors: [String!]!
    header: AuditEventStreamingHeader
  }

  input AuditEventsStreamingHeadersDestroyInput {
    clientMutationId: String
    headerId: AuditEventsStreamingHeaderID!
  }

  type AuditEventsStreamingHeadersDestroyPayload {
    clientMutationId: String
    errors: [String!]!
  }
`;
