import { ReleaseEvidence, ReleaseLink } from './release.entities';
import type { ReleaseDetails } from './releases.service';

/** The JSON of a release, shaped like the familiar `/projects/:id/releases` API. */
export const releaseView = ({ release: r, links, evidences }: ReleaseDetails) => ({
  id: r.id,
  tag_name: r.tagName,
  name: r.name,
  description: r.description,
  milestones: r.milestones.map((title) => ({ title })),
  assets: { count: links.length, links: links.map(linkView) },
  evidences: evidences.map(evidenceView),
  created_at: r.createdAt.toISOString(),
  updated_at: r.updatedAt.toISOString(),
  ...(r.deletedAt && { deleted_at: r.deletedAt.toISOString() }),
});

export const linkView = (l: ReleaseLink) => ({
  id: l.id,
  name: l.name,
  url: l.url,
  created_at: l.createdAt.toISOString(),
});
export const evidenceView = (e: ReleaseEvidence) => ({
  id: e.id,
  sha: e.sha,
  collected_at: e.collectedAt.toISOString(),
});
