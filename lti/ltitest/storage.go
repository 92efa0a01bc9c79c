package ltitest

import (
	"encoding/json"
	"html/template"
	"net/http"
	"sync"
)

// The platform's storage frame (LTI Platform Storage, with the LTI Client
// Side postMessage Storage messages lti.put_data and lti.get_data): a
// frame of the course page, named by lti_storage_target, that keeps what
// the tool's frame puts there (per the tool's origin) and gives it back.
// It reports each message it handled to the platform's server, so a test
// knows the storage was used.

// StorageFrame is the name of the storage frame, the lti_storage_target
// the platform's logins carry when it offers its storage.
const StorageFrame = "lti_storage"

// storageLog is what the storage frame did.
type storageLog struct {
	mu     sync.Mutex
	events []StorageEvent
	tamper bool
}

// StorageEvent is one message the storage frame answered.
type StorageEvent struct {
	Subject string `json:"subject"`
	Key     string `json:"key"`
	Origin  string `json:"origin"`
	Found   bool   `json:"found"`
}

func (p *Platform) mountStorage(mux *http.ServeMux) {
	mux.HandleFunc("GET /storage", p.serveStorageFrame)
	mux.HandleFunc("POST /storage/log", p.serveStorageLog)
}

// StorageEvents are the messages the storage frame answered.
func (p *Platform) StorageEvents() []StorageEvent {
	p.storage.mu.Lock()
	defer p.storage.mu.Unlock()
	return append([]StorageEvent(nil), p.storage.events...)
}

// TamperStorage makes the storage frame give back another state than the
// one put there, as storage a hostile page filled would.
func (p *Platform) TamperStorage(on bool) {
	p.storage.mu.Lock()
	p.storage.tamper = on
	p.storage.mu.Unlock()
}

var storagePage = template.Must(template.New("storage").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>Storage</title></head><body>
<script>
(function () {
  var tool = {{.ToolOrigin}}, tamper = {{.Tamper}}, data = {};
  function log(subject, key, origin, found) {
    fetch("/storage/log", {method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({subject: subject, key: key, origin: origin, found: found})});
  }
  window.addEventListener("message", function (ev) {
    var d = ev.data;
    if (!d || typeof d !== "object" || typeof d.subject !== "string") return;
    var reply = {subject: d.subject + ".response", message_id: d.message_id};
    if (ev.origin !== tool) {
      reply.error = {code: "unsupported_origin", message: "this platform keeps data for its tools only"};
    } else if (d.subject === "lti.capabilities") {
      reply.supported_messages = [{subject: "lti.put_data"}, {subject: "lti.get_data"}];
    } else if (d.subject === "lti.put_data") {
      data[ev.origin + " " + d.key] = d.value;
      reply.key = d.key; reply.value = d.value;
    } else if (d.subject === "lti.get_data") {
      var v = data[ev.origin + " " + d.key];
      if (v !== undefined && tamper && d.key.indexOf("state_") === 0) v = v + "x";
      reply.key = d.key; reply.value = v;
    } else {
      reply.error = {code: "unsupported_subject", message: "unknown subject " + d.subject};
    }
    log(d.subject, d.key || "", ev.origin, reply.value !== undefined);
    ev.source.postMessage(reply, ev.origin);
  });
})();
</script></body></html>`))

// serveStorageFrame is the storage frame, which trusts the tool's origin.
func (p *Platform) serveStorageFrame(w http.ResponseWriter, _ *http.Request) {
	p.storage.mu.Lock()
	tamper := p.storage.tamper
	p.storage.mu.Unlock()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	storagePage.Execute(w, map[string]any{"ToolOrigin": p.toolOrigin, "Tamper": tamper})
}

func (p *Platform) serveStorageLog(w http.ResponseWriter, r *http.Request) {
	var e StorageEvent
	if err := json.NewDecoder(r.Body).Decode(&e); err != nil {
		http.Error(w, "bad log", http.StatusBadRequest)
		return
	}
	p.storage.mu.Lock()
	p.storage.events = append(p.storage.events, e)
	p.storage.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

// StorageLoginURL is LoginURL with the platform's storage offered.
func (p *Platform) StorageLoginURL(loginHint, messageHint string) string {
	return p.LoginURL(loginHint, messageHint) + "&lti_storage_target=" + StorageFrame
}
