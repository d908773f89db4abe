// The original's aggregator: GET /random fetches a random verb, then a random noun (one
// after the other, node-fetch 2 with its defaults) and answers
// {"verb": {"verb": ...}, "noun": {"noun": ...}}; any upstream failure is a bare 500.
// Only for `make bench`: the reference wordmix is measured against.
"use strict";

const express = require("express");
const cors = require("cors");
const fetch = require("node-fetch");

const VERB_API = process.env.VERB_API_URL || "http://127.0.0.1:3001";
const NOUN_API = process.env.NOUN_API_URL || "http://127.0.0.1:3002";

const app = express();
app.use(cors());

app.get("/random", async (req, res) => {
  try {
    const verb = await (await fetch(`${VERB_API}/random`)).json();
    const noun = await (await fetch(`${NOUN_API}/random`)).json();
    res.json({ verb, noun });
  } catch (error) {
    res.status(500).send("Error fetching data");
  }
});

const port = Number(process.env.PORT || 3000);
app.listen(port, "127.0.0.1", () => console.log(`aggregator on 127.0.0.1:${port}`));
