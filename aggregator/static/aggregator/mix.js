// The "New mix" button asks the API instead of reloading the page; without this script
// the button still works as a plain form that reloads /.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const button = document.getElementById("new-mix");
  const verb = document.getElementById("verb");
  const noun = document.getElementById("noun");
  const error = document.getElementById("error");

  button.form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    try {
      const response = await fetch("/api/v1/mix/", { headers: { Accept: "application/json" } });
      const body = await response.json();
      if (!response.ok) {
        throw new Error(body.detail || `HTTP ${response.status}`);
      }
      verb.textContent = body.verb;
      noun.textContent = body.noun;
      error.hidden = true;
    } catch (failure) {
      error.textContent = failure.message;
      error.hidden = false;
    } finally {
      button.disabled = false;
    }
  });
});
