# Varnish in front of snapshot-server: cache what the server marks cacheable, for exactly as
# long as it says, and let snapshot-server's "http" purger remove a deleted snapshot at once.
# The test fixture (tests/e2e/varnish.py) replaces __BACKEND_HOST__ and __BACKEND_PORT__.
vcl 4.1;

backend snapshot_server {
    .host = "__BACKEND_HOST__";
    .port = "__BACKEND_PORT__";
}

# Who may purge: only this host (snapshot-server runs next to Varnish). Extend with the
# addresses of your snapshot-server instances; never open PURGE to the world.
acl purgers {
    "127.0.0.1";
    "::1";
}

sub vcl_recv {
    if (req.method == "PURGE") {
        if (client.ip !~ purgers) {
            return (synth(405, "Purging not allowed"));
        }
        # Removes the object and all its variants; answers 200 even when nothing was cached.
        return (purge);
    }
    # Everything else: the built-in VCL (caches GET/HEAD without Authorization or Cookie).
}

sub vcl_hash {
    # A snapshot route ignores its query string and trailing slash ("?orgId=1" from Grafana
    # links), so hash all spellings as one object: the purge of the canonical URL then
    # clears every spelling a client used.
    if (req.url ~ "/(api/snapshots|dashboard/snapshot)/[A-Za-z0-9_-]+/?(\?.*)?$") {
        hash_data(regsub(req.url, "/?(\?.*)?$", ""));
    } else {
        hash_data(req.url);
    }
    if (req.http.host) {
        hash_data(req.http.host);
    } else {
        hash_data(server.ip);
    }
    return (lookup);
}

sub vcl_backend_response {
    # max-age is already capped at the snapshot's expiry; grace would let Varnish serve it
    # stale past that instant while it refetches, so there is none.
    set beresp.grace = 0s;
}

sub vcl_deliver {
    if (obj.hits > 0) {
        set resp.http.X-Cache = "HIT";
    } else {
        set resp.http.X-Cache = "MISS";
    }
}
