/* The web twin of a peercoach card: renders the card's Adaptive Card JSON with Microsoft's renderer and posts
 * its actions to the bot, which answers with the replacement card (as a Teams invoke would).
 *
 * Validation is the bot's: inputs are not blocked in the browser, so every submission reaches the same
 * handler Teams uses and a problem comes back as the card with each problem under its input. Markdown in
 * TextBlocks (bold, italics, links) is rendered from escaped text, so no markup from a card can run. */
(function () {
  "use strict";
  var AC = window.AdaptiveCards;
  var root = document.getElementById("twin");
  var host = document.getElementById("twin-host");
  var status = document.getElementById("twin-status");
  var state = { action: root.dataset.action, proof: root.dataset.proof, busy: false };

  function escapeHtml(text) {
    return String(text).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;").replace(/'/g, "&#39;");
  }

  function markdown(text) {
    var out = escapeHtml(text);
    out = out.replace(/\[([^\]]+)\]\((https?:\/\/[^\s)]+)\)/g, function (_m, label, url) {
      return "<a href=\"" + url + "\" target=\"_blank\" rel=\"noopener noreferrer\">" + label + "</a>";
    });
    out = out.replace(/\*\*([^*]+)\*\*/g, "<strong>$1</strong>").replace(/(^|\W)_([^_]+)_(?=\W|$)/g, "$1<em>$2</em>");
    return out.split(/\n{2,}/).map(function (p) { return "<p>" + p.replace(/\n/g, "<br>") + "</p>"; }).join("");
  }

  AC.AdaptiveCard.onProcessMarkdown = function (text, result) {
    result.outputHtml = markdown(text);
    result.didProcess = true;
  };
  // The bot validates (see above): the renderer's own check would stop a submission before the bot sees it.
  AC.Input.prototype.validateValue = function () { return true; };

  function say(title, message, kind) {
    status.className = kind ? "twin-status twin-" + kind : "twin-status";
    status.replaceChildren();
    if (title) {
      var strong = document.createElement("strong");
      strong.textContent = title;
      status.appendChild(strong);
      status.appendChild(document.createTextNode(" "));
    }
    if (message) { status.appendChild(document.createTextNode(message)); }
    if (kind === "error" || kind === "info") { status.scrollIntoView({ block: "start" }); }
  }

  function render(json) {
    var card = new AC.AdaptiveCard();
    card.hostConfig = new AC.HostConfig({
      fontFamily: "'Segoe UI', system-ui, -apple-system, sans-serif",
      actions: { actionsOrientation: "horizontal", buttonSpacing: 8, maxActions: 6 }
    });
    card.onExecuteAction = execute;
    card.parse(json);
    var element = card.render();
    host.replaceChildren(element);
  }

  function execute(action) {
    if (action instanceof AC.OpenUrlAction) {
      window.open(action.url, "_blank", "noopener,noreferrer");
      return;
    }
    if (!(action instanceof AC.ExecuteAction) && !(action instanceof AC.SubmitAction)) { return; }
    if (state.busy) { return; }
    send(action.verb || "", action.data || {});
  }

  function send(verb, data) {
    state.busy = true;
    root.setAttribute("aria-busy", "true");
    say("", root.dataset.sending, "busy");
    fetch(root.dataset.post, {
      method: "POST", credentials: "same-origin", cache: "no-store",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ verb: verb, data: data, action: state.action, proof: state.proof })
    }).then(function (response) {
      return response.json().then(function (body) { return { ok: response.ok, body: body }; });
    }).then(function (answer) {
      var body = answer.body || {};
      if (body.action) { state.action = body.action; state.proof = body.proof; }
      if (body.card) { render(body.card); }
      if (body.card) { window.scrollTo(0, 0); }
      if (body.message) {
        say(body.title || "", body.message, answer.ok ? "info" : "error");
      } else {
        say("", "", "");
      }
    }).catch(function () {
      say("", root.dataset.failed, "error");
    }).then(function () {
      state.busy = false;
      root.removeAttribute("aria-busy");
    });
  }

  render(JSON.parse(document.getElementById("twin-card").textContent));
}());
