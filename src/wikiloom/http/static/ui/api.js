// Calls to this server (the Wiki labels API, with the session cookie) and to the wiki's Action
// API (anonymous CORS with origin=*).

export class ServerError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

/**
 * `fetch(url, init)` with the session cookie: the JSON answer, or a ServerError carrying the
 * server's `error.message` (Wiki labels' envelope); `unreachable(reason)` words a network failure.
 */
export async function callServer(url, init = {}, unreachable = (reason) => `The server could not be reached (${reason}).`) {
  let response;
  try {
    response = await fetch(url, { credentials: "include", ...init, headers: { Accept: "application/json", ...init.headers } });
  } catch (error) {
    throw new ServerError(unreachable(error.message), 0);
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok || (body && body.error)) {
    const message = body?.error?.message || body?.error || `${response.status} ${response.statusText}`;
    throw new ServerError(String(message), response.status);
  }
  return body;
}

/** The Wiki labels API of `root`: form-encoded writes, trailing slashes, `{error: {message}}`. */
export class Server {
  constructor(root, unreachable = undefined) {
    this.root = root.replace(/\/$/, "");
    this.unreachable = unreachable;
  }

  request(method, path, data = null) {
    let url = `${this.root}/${path.replace(/^\//, "")}`;
    const init = { method };
    if (data && method === "GET") url += `?${new URLSearchParams(data)}`;
    else if (data) init.body = new URLSearchParams(data);
    return callServer(url, init, this.unreachable);
  }

  whoami() {
    return this.request("GET", "auth/whoami/", { detail: "" });
  }
  campaigns(wiki) {
    return this.request("GET", `campaigns/${wiki}/`, { campaigns: "stats" });
  }
  worksets(userId, campaignId) {
    return this.request("GET", `users/${userId}/${campaignId}/`, { worksets: "stats" });
  }
  assign(wiki, campaignId) {
    return this.request("POST", `campaigns/${wiki}/${campaignId}/`, { workset: "stats" });
  }
  workset(wiki, campaignId, worksetId) {
    return this.request("GET", `campaigns/${wiki}/${campaignId}/${worksetId}/`, { tasks: "", campaign: "", workset: "stats" });
  }
  form(name) {
    return this.request("GET", `forms/${encodeURIComponent(name)}/`);
  }
  label(wiki, campaignId, worksetId, taskId, label) {
    return this.request("POST", `campaigns/${wiki}/${campaignId}/${worksetId}/${taskId}/`, { label: JSON.stringify(label) });
  }
  skip(wiki, campaignId, worksetId, taskId) {
    return this.request("DELETE", `campaigns/${wiki}/${campaignId}/${worksetId}/${taskId}/`);
  }
  devLogin(userId, username) {
    return this.request("POST", "auth/dev_login/", { user_id: userId, username });
  }
}

/** A wiki's Action API, anonymously from the browser (CORS `origin=*`), JSON format version 2. */
export class WikiApi {
  constructor(url) {
    this.url = url;
    this.cache = new Map();
  }

  get(params) {
    const query = new URLSearchParams({ format: "json", formatversion: "2", origin: "*", ...params });
    const url = `${this.url}?${query}`;
    if (!this.cache.has(url)) {
      const answer = fetch(url, { credentials: "omit" }).then(async (response) => {
        if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
        const body = await response.json();
        if (body.error) throw Object.assign(new Error(body.error.info || body.error.code), { code: body.error.code });
        return body;
      });
      answer.catch(() => this.cache.delete(url));
      this.cache.set(url, answer);
    }
    return this.cache.get(url);
  }

  /** The wiki's `…/index.php` and article path, from the API's URL. */
  get base() {
    return this.url.replace(/api\.php$/, "");
  }
}
