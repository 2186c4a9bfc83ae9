"""The transfer layer: one object from the producer bucket to the consumer bucket, verified against its
source. `Copier` implements the port, whose contract for callers is `hydration.copying`.

Modes (`hydration.settings.CopyMode`):
- server-side: CopyObject, or CreateMultipartUpload + UploadPartCopy, signed by the producer role; no object
  bytes pass through Lambda.
- stream: GetObject (ranged, per part) with the producer role, PutObject/UploadPart with the copier's own
  role; the bytes held at once are bounded by a ByteBudget, whatever the object size.
Both write SSE-KMS under the consumer key (bucket key on) and keep content headers, metadata and tags.

Pinning. Every request for the source names the version asked for, and every HEAD and GET answer is checked
to be of it, as is a HEAD just before a multipart upload is completed (`source`). A source that changed is
copied in its current version (HEAD, re-pin, at most CHANGED_RETRIES times); one that vanished raises
SourceVanishedError; one archived (InvalidObjectState: GLACIER, DEEP_ARCHIVE, Intelligent-Tiering archive
tiers) raises SourceArchivedError, with what one HEAD says of it (class, tier, a restore in progress).

Integrity (`hydration.settings.Verification`; docs/large-objects.md says what each check proves). A copy
carries a full-object CRC in the algorithm of its source's full-object checksum, so that the two compare
(CRC64NVME, S3's default, when the source has none); a difference is a ChecksumMismatchError, raised before
anything is written or completed wherever that is possible:
- server-side, single: CopyObject with ChecksumAlgorithm (S3 creates the copy's CRC), compared with the
  source's from a pinned HEAD, or with the one recorded for a version copied before (no HEAD). With
  Verification.NONE, CopyObject alone: the pinned version, nothing compared.
- stream, single: the CRC computed while reading, compared before the PUT and sent with it (S3 verifies).
- multipart, both modes: the part CRCs S3 holds (computed by S3 for UploadPartCopy; ours, verified by S3,
  for UploadPart) are combined into the object's CRC, compared with the source's, and passed to
  CompleteMultipartUpload, where S3 checks the assembled object against it.
Where the source has no full-object CRC (none, a COMPOSITE multipart checksum, SHA only), the size and the
pinned version are what is verified. `CopyResult.verified` says what was compared.

Large objects. Server-side, an object up to 5 GiB is one CopyObject when the deadline leaves time for it.
Otherwise, above the multipart threshold a copy is a multipart upload recorded in the uploads table
(`hydration.aws.uploads`), so that it goes on across invocations: a part starts only while the deadline
leaves time to finish and record it (parts are recorded in batches); a call that makes no progress says so
(`Handoff.progressed`), so that the caller can bound a copy that cannot finish; a later call continues the
same upload (ListParts is the truth); at the fan-out threshold the parts are handed out to `copy_parts`
calls. An upload whose source changed or vanished, or whose copy failed verification, is aborted; one that
failed otherwise is kept for the retry, and the caller aborts it when it gives up (`Copier.abort`).
Completion is claimed in the uploads table, so it happens once.

Modules: `copier` (the port: single or multipart, re-pinning), `source` (pinning, the source's checksum,
the S3 requests of a call), `single` (one-request copies), `multipart_copy` (a multipart copy from start to
end), `upload` (open, resume, discard and hand off the recorded upload), `inflight` (parts in flight under
the deadline), `completion` (complete once, verified), `memory` (the byte budget and buffers of stream
mode), `setup` (what a Copier is built from).
"""

from hydration.aws.transfer.copier import Copier
from hydration.aws.transfer.memory import ByteBudget

__all__ = ["ByteBudget", "Copier"]
