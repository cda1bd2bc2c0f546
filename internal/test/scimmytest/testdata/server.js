// An independent SCIM 2.0 server for condeco-sync's integration tests:
// SCIMMY (protocol) behind express, with an in-memory store that enforces
// userName uniqueness (409 uniqueness), as a real service provider does.
//
//   PORT=0 SCIMMY_TOKEN=… [SCIMMY_BULK=1] [SCIMMY_VISITOR_EXT=urn:…] node server.js
//     → prints "listening http://127.0.0.1:<port>/scim/v2"
//
// SCIMMY_VISITOR_EXT declares condeco-sync's visitor-profile user extension
// (DESIGN §5: defaultLocation, locations [{value, display, role}], the
// write-only sendInvitation) under that URN, so the visitor profile is
// tested on a server we did not write. /Locations is not declared: the
// loader must then report locations as not supported by the target.
//
// POST /_reset (same token) empties the store between tests.
import express from "express";
import SCIMMY from "scimmy";
import SCIMMYRouters from "scimmy-routers";
import {randomUUID} from "node:crypto";

const token = process.env.SCIMMY_TOKEN || "test-token";
const port = Number(process.env.PORT || 0);
const stores = {Users: new Map(), Groups: new Map()};

function declare(type, store, unique) {
    SCIMMY.Resources.declare(type)
        .ingress((resource, data) => {
            const id = resource.id ?? randomUUID();
            if (resource.id && !store.has(id))
                throw new SCIMMY.Types.Error(404, null, `Resource ${id} not found`);
            if (unique) {
                const wanted = String(data[unique] ?? "").toLowerCase();
                for (const [other, rec] of store)
                    if (other !== id && String(rec[unique] ?? "").toLowerCase() === wanted)
                        throw new SCIMMY.Types.Error(409, "uniqueness", `${unique} ${data[unique]} is already taken`);
            }
            // RFC 7644 §3.5.2.1: adding a value already there changes
            // nothing. SCIMMY's PATCH appends it again; a member is kept once.
            if (Array.isArray(data.members)) {
                const seen = new Set();
                data.members = data.members.filter((m) => !seen.has(m.value) && seen.add(m.value));
            }
            const now = new Date();
            const rec = {...data, id, meta: {created: store.get(id)?.meta?.created ?? now, lastModified: now}};
            store.set(id, rec);
            return rec;
        })
        .egress((resource) => {
            if (resource.id) {
                const rec = store.get(resource.id);
                if (!rec) throw new SCIMMY.Types.Error(404, null, `Resource ${resource.id} not found`);
                return rec;
            }
            const all = [...store.values()];
            return resource.filter ? resource.filter.match(all) : all;
        })
        .degress((resource) => {
            if (!store.delete(resource.id))
                throw new SCIMMY.Types.Error(404, null, `Resource ${resource.id} not found`);
            // A deleted user leaves every group, as service providers do.
            if (type === SCIMMY.Resources.User)
                for (const group of stores.Groups.values())
                    if (group.members) group.members = group.members.filter((m) => m.value !== resource.id);
        });
}

SCIMMY.Resources.User.extend(SCIMMY.Schemas.EnterpriseUser);
if (process.env.SCIMMY_VISITOR_EXT) {
    const {Attribute, SchemaDefinition} = SCIMMY.Types;
    SCIMMY.Resources.User.extend(new SchemaDefinition("VisitorUser", process.env.SCIMMY_VISITOR_EXT,
        "Locations and access in Eptura Visitor", [
            new Attribute("string", "defaultLocation"),
            new Attribute("complex", "locations", {multiValued: true}, [
                new Attribute("string", "value", {caseExact: true}),
                new Attribute("string", "display"),
                new Attribute("string", "role", {canonicalValues: ["user", "admin"]}),
            ]),
            new Attribute("boolean", "sendInvitation", {mutable: "writeOnly", returned: false}),
        ]));
}
declare(SCIMMY.Resources.User, stores.Users, "userName");
declare(SCIMMY.Resources.Group, stores.Groups, "displayName");

const authorized = (req) => req.header("Authorization") === `Bearer ${token}`;
const app = express();
app.post("/_reset", (req, res) => {
    if (!authorized(req)) return res.sendStatus(401);
    stores.Users.clear();
    stores.Groups.clear();
    res.sendStatus(204);
});
app.use("/scim/v2", new SCIMMYRouters({
    type: "bearer",
    docUri: "https://example.invalid/auth",
    handler: (req) => {
        if (!authorized(req)) throw new Error("Authorization failed");
        return "condeco-sync-tests";
    },
}));
// After the routers: scimmy-routers turns patch, filter, sort and bulk on
// when it is constructed.
SCIMMY.Config.set({
    patch: {supported: true},
    filter: {supported: true, maxResults: 1000},
    sort: {supported: true},
    // SCIMMY_BULK=1 offers /Bulk (the loader's fast path for creates).
    bulk: process.env.SCIMMY_BULK === "1"
        ? {supported: true, maxOperations: 1000, maxPayloadSize: 1048576}
        : {supported: false},
    changePassword: {supported: false},
    etag: {supported: false},
});
const server = app.listen(port, "127.0.0.1", () => {
    console.log(`listening http://127.0.0.1:${server.address().port}/scim/v2`);
});
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => server.close(() => process.exit(0)));
