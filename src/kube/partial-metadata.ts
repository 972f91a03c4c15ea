// Metadata-only reads, as client-go's metadata informers make them: asked with these Accept
// headers, the API server converts each object to PartialObjectMetadata (kind, apiVersion and
// metadata, managed fields included) before sending it, so spec and status (most of a pod's
// bytes) are never sent or parsed. A LIST must ask for the list form and anything else for the
// object form, or the server answers 406. Watch events carry the object form, the streaming
// list's initial-events-end bookmark included. The trailing plain `application/json` is
// client-go's fallback too: a server that cannot convert (an aggregated API) then sends whole
// objects instead of refusing, so callers must read only metadata and cope with either.

const AS = "g=meta.k8s.io;v=v1";

/** The Accept header of a metadata-only LIST. */
export const METADATA_LIST_ACCEPT = `application/json;as=PartialObjectMetadataList;${AS}, application/json`;

/** The Accept header of a metadata-only GET or WATCH. */
export const METADATA_OBJECT_ACCEPT = `application/json;as=PartialObjectMetadata;${AS}, application/json`;
