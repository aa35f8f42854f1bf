// The credentials page: "Disconnect" deletes a connected account's credential.
"use strict";

(function () {
  for (const button of document.querySelectorAll("button[data-disconnect]")) {
    button.addEventListener("click", async function () {
      const id = button.getAttribute("data-disconnect");
      button.disabled = true;
      const result = await Monitor.send(
        "/ui/credentials/" + encodeURIComponent(id) + "/disconnect"
      );
      if (result.ok) {
        button.closest("tr").remove();
        Monitor.notice("Account disconnected.");
      } else {
        Monitor.notice(result.message);
        button.disabled = false;
      }
    });
  }
})();
