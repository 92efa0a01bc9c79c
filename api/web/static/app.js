// Console and invitee page behaviour. Every console button calls the same
// /api/v1 endpoints a program would, with the session cookie.
(function () {
  "use strict";

  function fieldValue(el) {
    var t = el.dataset.type;
    if (t === "bool") return el.checked;
    if (el.value === "") return undefined;
    if (t === "int") return parseInt(el.value, 10);
    if (t === "datetime") return new Date(el.value).toISOString();
    if (t === "lines") return el.value.split(/\r?\n/).map(function (s) { return s.trim(); }).filter(Boolean);
    // JSON typed in a textarea; text that is not JSON is sent as text, for
    // the server to say what is wrong with it.
    if (t === "json") { try { return JSON.parse(el.value); } catch (e) { return el.value; } }
    return el.value;
  }

  // set puts v at name in out; "a.b" is field b of object a.
  function set(out, name, v) {
    var parts = name.split(".");
    var o = out;
    for (var i = 0; i < parts.length - 1; i++) o = o[parts[i]] = o[parts[i]] || {};
    o[parts[parts.length - 1]] = v;
  }

  function serialize(form) {
    var out = {};
    form.querySelectorAll("[name]").forEach(function (el) {
      var v = fieldValue(el);
      if (v !== undefined) set(out, el.name, v);
      else if (el.dataset.type === "lines") set(out, el.name, []);
    });
    return out;
  }

  // call sends a JSON (or FormData) request to the gateway's API with the
  // session cookie and answers the decoded body; a refusal rejects with
  // the API's error ({code, message, details}), as does an answer that is
  // not JSON or a gateway that cannot be reached. Every console page's
  // script uses it (window.Invitegate.call).
  function call(method, url, body) {
    var opts = { method: method, headers: { "Accept": "application/json" }, credentials: "same-origin" };
    if (body instanceof FormData) {
      opts.body = body;
    } else if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    return fetch(url, opts).then(function (r) {
      if (r.status === 204) return {};
      return r.text().then(function (t) {
        var j = null;
        try { j = JSON.parse(t); } catch (e) { /* not JSON: said below */ }
        if (!r.ok) throw (j && j.error) || { message: "the server answered " + r.status + " " + r.statusText };
        if (j === null) throw { message: "the server's answer was not understood" };
        return j;
      });
    }, function () {
      throw { message: "the gateway could not be reached; check the connection and try again" };
    });
  }
  window.Invitegate = { call: call };

  function showError(scope, err) {
    var box = scope && scope.querySelector("[data-error]");
    var msg = err.message || "request failed";
    if (err.details && err.details.length > 1) {
      msg = err.details.map(function (d) { return d.field + ": " + d.message; }).join("; ");
    }
    if (box) { box.textContent = msg; box.hidden = false; } else { alert(msg); }
  }

  function then(kind, body, scope) {
    if (kind === "reload") return location.reload();
    if (kind === "goto-resource") { location.href = "/console/resources/" + body.id; return; }
    if (kind === "saved") { var ok = scope.querySelector("[data-ok]"); if (ok) ok.hidden = false; return; }
    if (kind === "queued") {
      var q = scope.querySelector("[data-ok]");
      if (q) { q.textContent = "Queued as message " + body.id + " to " + body.to_email + "; see Recent messages."; q.hidden = false; }
      return;
    }
    if (kind === "show-link") {
      var box = document.getElementById("link-confirm");
      document.getElementById("invite-link").value = body.link;
      // A new link is not copied yet, whatever the button said for the last one.
      var copy = document.getElementById("copy-link");
      if (copy) copy.textContent = "Copy";
      var emailed = !!body.last_email;
      document.getElementById("link-emailed").hidden = !emailed;
      document.getElementById("link-not-emailed").hidden = emailed;
      box.hidden = false;
      var form = document.getElementById("invite-form");
      if (form) form.reset();
    }
  }

  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (!form.dataset.api) return;
    ev.preventDefault();
    var err = form.querySelector("[data-error]");
    if (err) err.hidden = true;
    var body = serialize(form);
    // Fields marked data-path fill {name} in the endpoint instead of the body.
    var url = form.dataset.api.replace(/\{(\w+)\}/g, function (_, name) {
      var v = body[name];
      delete body[name];
      return encodeURIComponent(v || "");
    });
    call(form.dataset.method || "POST", url, body)
      .then(function (body) { then(form.dataset.then, body, form); })
      .catch(function (e) { showError(form, e); });
  });

  document.addEventListener("click", function (ev) {
    var b = ev.target.closest("button");
    if (!b) return;
    if (b.dataset.copy) {
      var input = document.querySelector(b.dataset.copy);
      var done = function () { b.textContent = "Copied"; };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(input.value).then(done, function () {
          input.select();
          if (document.execCommand("copy")) done(); else b.textContent = "Select and copy the link";
        });
      } else {
        input.select();
        if (document.execCommand("copy")) done(); else b.textContent = "Select and copy the link";
      }
      return;
    }
    if (b.hasAttribute("data-reload")) { location.reload(); return; }
    if (b.dataset.openDialog) { document.getElementById(b.dataset.openDialog).showModal(); return; }
    if (b.dataset.preview) {
      var frame = document.getElementById("preview-frame");
      frame.src = b.dataset.preview;
      frame.hidden = false;
      var subj = document.getElementById("preview-subject");
      call("POST", b.dataset.previewApi, { locale: b.dataset.locale }).then(function (j) {
        subj.textContent = "Subject: " + j.subject;
      }).catch(function (e) { subj.textContent = e.message; });
      return;
    }
    if (b.dataset.action) {
      if (b.dataset.confirm && !confirm(b.dataset.confirm)) return;
      call(b.dataset.method || "POST", b.dataset.action, b.dataset.body ? JSON.parse(b.dataset.body) : undefined)
        .then(function (body) { then(b.dataset.then, body, document); })
        .catch(function (e) { showError(null, e); });
    }
  });

  // Email autocomplete from the account's known users and, for a
  // resource a room adapter hosts (data-resource), its roster there.
  document.querySelectorAll("[data-autocomplete]").forEach(function (input) {
    var list = document.getElementById(input.getAttribute("list"));
    var scope = input.dataset.resource ? "&resource_id=" + encodeURIComponent(input.dataset.resource) : "";
    var known = {};
    var timer;
    input.addEventListener("input", function () {
      clearTimeout(timer);
      var q = input.value.trim();
      var hit = known[q.toLowerCase()];
      if (hit) {
        var f = document.getElementById("invite-first"), l = document.getElementById("invite-last");
        if (f && !f.value) f.value = hit.first_name;
        if (l && !l.value) l.value = hit.last_name;
      }
      if (q.length < 2) return;
      timer = setTimeout(function () {
        // data-people: the page's own suggestions endpoint (the room page
        // inside the LMS), else the API's, scoped to the resource.
        var people = input.dataset.people ? input.dataset.people + "?limit=20&q=" + encodeURIComponent(q)
          : "/api/v1/users?limit=8&q=" + encodeURIComponent(q) + scope;
        call("GET", people).then(function (j) {
          list.innerHTML = "";
          j.users.forEach(function (u) {
            known[u.email] = u;
            var o = document.createElement("option");
            o.value = u.email;
            o.label = (u.first_name + " " + u.last_name).trim();
            list.appendChild(o);
          });
        }).catch(function () {});
      }, 150);
    });
  });

  // Local times for schedules.
  document.querySelectorAll("time[data-local]").forEach(function (t) {
    var d = new Date(t.getAttribute("datetime"));
    if (!isNaN(d)) t.title = d.toLocaleString();
  });

  // A link's page tells the gateway, once, that a person has it open:
  // at the first touch, key, pointer movement or scroll, or after it has
  // been on screen for two seconds. Loading the page alone marks nothing
  // (mail filters' scanners load every link); a client that runs no
  // script never posts. Same-origin, and idempotent on the server.
  var beacon = document.querySelector("[data-beacon]");
  if (beacon) {
    var sent = false, shown = null;
    var send = function () {
      if (sent) return;
      sent = true;
      fetch(location.pathname.replace(/\/+$/, "") + "/opened", { method: "POST", credentials: "same-origin", keepalive: true }).catch(function () {});
    };
    ["pointerdown", "pointermove", "keydown", "touchstart", "scroll"].forEach(function (t) {
      window.addEventListener(t, send, { once: true, passive: true });
    });
    var watch = function () {
      clearTimeout(shown);
      if (document.visibilityState === "visible") shown = setTimeout(send, 2000);
    };
    document.addEventListener("visibilitychange", watch);
    watch();
  }

  // Countdown until the session opens, then the lobby. The server's clock
  // decides when the session opens, so the count follows the server's time,
  // whatever the device's clock says.
  var cd = document.getElementById("countdown");
  if (cd) {
    var target = new Date(cd.dataset.countdownTo).getTime();
    var skew = new Date(cd.dataset.serverNow).getTime() - Date.now();
    if (isNaN(skew)) skew = 0;
    var clock = document.getElementById("countdown-clock");
    var tick = function () {
      var left = Math.max(0, Math.ceil((target - (Date.now() + skew)) / 1000));
      var d = Math.floor(left / 86400), h = Math.floor(left % 86400 / 3600), m = Math.floor(left % 3600 / 60), s = left % 60;
      var pad = function (n) { return (n < 10 ? "0" : "") + n; };
      clock.textContent = (d ? d + "d " : "") + pad(h) + ":" + pad(m) + ":" + pad(s);
      if (target - (Date.now() + skew) <= 0) { clearInterval(iv); setTimeout(function () { location.reload(); }, 300); }
    };
    var iv = setInterval(tick, 250);
    tick();
  }

  // Demo room: follow role changes without leaving the room.
  var room = document.getElementById("room");
  if (room) {
    setInterval(function () {
      call("GET", "/demo/rooms/" + room.dataset.resource + "/presence").then(function (j) {
        var role = document.getElementById("role");
        if (role.dataset.role !== j.role) {
          role.dataset.role = j.role;
          role.textContent = j.role.charAt(0).toUpperCase() + j.role.slice(1);
          document.getElementById("privileges").textContent = j.privileges.join(", ");
        }
      }).catch(function (e) {
        // Out of the room (session over, room deleted): say so instead of a stale role.
        if (e && e.code) {
          document.getElementById("role").textContent = "—";
          document.getElementById("privileges").textContent = e.message;
        }
      });
    }, 2000);
  }
  // Deleting a person from the gateway: find them, show the impact (a dry
  // run of the same DELETE), and only then erase.
  var eraseFind = document.getElementById("erase-find");
  if (eraseFind) {
    var target = null;
    var impactBox = document.getElementById("erase-impact");
    var done = document.getElementById("erase-done");
    eraseFind.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var errBox = eraseFind.querySelector("[data-error]");
      errBox.hidden = true; impactBox.hidden = true; done.hidden = true;
      var email = eraseFind.elements.email.value.trim().toLowerCase();
      call("GET", "/api/v1/users?limit=50&q=" + encodeURIComponent(email)).then(function (j) {
        var u = j.users.filter(function (x) { return x.email === email; })[0];
        if (!u) throw { message: "No person with the email " + email + " is known to this account." };
        target = u;
        return call("DELETE", "/api/v1/users/" + encodeURIComponent(u.id) + "?dry_run=true");
      }).then(function (j) {
        var imp = j.impact;
        document.getElementById("erase-summary").textContent = imp.email +
          (imp.shared ? " is a shared user: deleting erases them from " + imp.accounts.length + " accounts." : " will be erased from this account.");
        var list = document.getElementById("erase-accounts");
        list.innerHTML = "";
        imp.accounts.forEach(function (a) {
          var li = document.createElement("li");
          var evs = a.events.map(function (e) { return e.name + " (" + e.status + ")"; }).join(", ") || "no events";
          li.textContent = a.account_name + ": " + evs + "; " + a.invitations + " invitation(s), " +
            a.resources + " resource(s), " + a.messages + " email(s), " + a.groups + " group(s)" + (a.console_role ? "; console " + a.console_role : "");
          list.appendChild(li);
        });
        impactBox.hidden = false;
      }).catch(function (e) { showError(eraseFind, e); });
    });
    document.getElementById("erase-cancel").addEventListener("click", function () { impactBox.hidden = true; target = null; });
    document.getElementById("erase-confirm").addEventListener("click", function () {
      if (!target) return;
      call("DELETE", "/api/v1/users/" + encodeURIComponent(target.id)).then(function (j) {
        impactBox.hidden = true;
        done.textContent = j.impact.email + " was deleted from " + j.impact.accounts.length + " account(s).";
        done.hidden = false;
        target = null;
        eraseFind.reset();
      }).catch(function (e) { showError(eraseFind, e); });
    });
  }
})();
