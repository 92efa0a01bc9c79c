// A SCIM 2.0 service provider for the SCIM group source's tests: npm's
// scimmy (resources, schemas, ListResponse paging) and scimmy-routers (the
// RFC 7644 HTTP endpoints) over an in-memory store, at /scim/v2 on loopback,
// with one bearer token.
//
// Usage: SCIM_NODE_MODULES=DIR node server.mjs TOKEN, DIR being the
// node_modules that holds the packages (.ci/deps.sh installs them into
// .cache/npm). Prints "listening PORT" once it serves.
import {createRequire} from "node:module";
import {randomUUID} from "node:crypto";
import path from "node:path";

const modules = process.env.SCIM_NODE_MODULES;
const token = process.argv[2];
if (!modules || !token) {
    console.error("usage: SCIM_NODE_MODULES=DIR node server.mjs TOKEN");
    process.exit(2);
}
const require = createRequire(path.join(modules, "noop.js"));
// Every package is loaded through require's resolution (CommonJS builds), so
// scimmy-routers and this script share one scimmy and its declarations.
const load = (name) => {
    const m = require(name);
    return m.default ?? m;
};
const express = load("express");
const SCIMMY = load("scimmy");
const SCIMMYRouters = load("scimmy-routers");

// store holds each resource type's resources by id, in creation order.
const store = {User: new Map(), Group: new Map()};

function handlers(type) {
    const items = store[type];
    return {
        ingress: (resource, instance) => {
            const id = resource.id ?? randomUUID();
            if (resource.id && !items.has(id)) throw new SCIMMY.Types.Error(404, null, `${type} ${id} not found`);
            const now = new Date().toISOString();
            const old = items.get(id);
            const value = {...JSON.parse(JSON.stringify(instance)), id,
                meta: {resourceType: type, created: old?.meta?.created ?? now, lastModified: now}};
            items.set(id, value);
            return value;
        },
        egress: (resource) => {
            if (resource.id) {
                const item = items.get(resource.id);
                if (!item) throw new SCIMMY.Types.Error(404, null, `${type} ${resource.id} not found`);
                return item;
            }
            const all = [...items.values()];
            return resource.filter ? resource.filter.match(all) : all;
        },
        degress: (resource) => {
            if (!items.delete(resource.id)) throw new SCIMMY.Types.Error(404, null, `${type} ${resource.id} not found`);
        },
    };
}

SCIMMY.Resources.declare(SCIMMY.Resources.User, handlers("User"));
SCIMMY.Resources.declare(SCIMMY.Resources.Group, handlers("Group"));

const app = express();
app.use("/scim/v2", new SCIMMYRouters({
    type: "bearer",
    docUri: "https://example.org/scim-test",
    handler: (request) => {
        if (request.header("Authorization") !== `Bearer ${token}`) throw new Error("Bearer token not accepted");
        return "test-client";
    },
}));
const server = app.listen(0, "127.0.0.1", () => console.log(`listening ${server.address().port}`));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
