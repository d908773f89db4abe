// The original's verb API and noun API (one file, the kind chosen by the first argument):
// an in-memory list, GET /random -> {"verb": "run"}, GET /all -> {"verbs": [...]}, and
// POST /add {"verb": "x"}, open to anyone, as the original had it (wordmix requires a staff
// user). Only for `make bench`: the reference wordmix is measured against.
"use strict";

const express = require("express");
const cors = require("cors");

const WORDS = {
  verb: "run jump write sing read dance speak drive cook swim walk fly climb paint laugh",
  noun: "dog cat house car tree book computer phone flower mountain river city ocean bird table",
};

const kind = process.argv[2];
if (!(kind in WORDS)) {
  console.error("usage: node word-api.js verb|noun  (PORT from the environment)");
  process.exit(2);
}
const plural = `${kind}s`;
const words = WORDS[kind].split(" ");

const app = express();
app.use(cors());
app.use(express.json());

app.get("/random", (req, res) => {
  res.json({ [kind]: words[Math.floor(Math.random() * words.length)] });
});

app.get("/all", (req, res) => {
  res.json({ [plural]: words });
});

app.post("/add", (req, res) => {
  const word = req.body && req.body[kind];
  if (!word) {
    return res.status(400).json({ error: `${kind} is required` });
  }
  words.push(word);
  res.status(201).json({ [kind]: word });
});

const port = Number(process.env.PORT || 3000);
app.listen(port, "127.0.0.1", () => console.log(`${plural} API on 127.0.0.1:${port}`));
