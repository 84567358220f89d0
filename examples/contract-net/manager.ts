// cn-manager: the initiator side of FIPA contract net.
//
//   request {"task": any, "bidders": ["name", ...], "deadline_ms": n}        (from a requester)
//     -> cfp {"task": task} to each bidder (protocol fipa-contract-net, one new conversation_id
//        "cnet-<16 hex>", reply_with "<conversation_id>"), and a timer (caxton.timer_set) for deadline_ms
//   propose {"price": number} / refuse  (from bidders, same conversation_id)
//     once every bidder answered or the deadline timer fired:
//     -> accept-proposal {"task": task, "price": p} to the lowest price (ties: earliest in "bidders"),
//        reject-proposal {"reason": "another proposal was accepted"} to the other proposers,
//        and a second timer of deadline_ms for the winner's result
//     no proposal at all -> failure {"error": "no bids"} to the requester
//   inform {"result": r} from the winner  -> inform {"winner": name, "price": p, "result": r} to the requester
//   failure from the winner               -> failure {"error": "winner failed", "winner": name, "reason": content}
//   no result before the second timer     -> failure {"error": "winner did not report a result in time", "winner": name}
//   propose after the award               -> reject-proposal {"reason": "deadline passed"}
//   malformed request                     -> not-understood {"error": "..."}
// Replies to the requester are Message.reply() of its request: conversation_id, protocol and
// in_reply_to (= its reply_with) are set.
//
// State: rounds live in memory (a Map keyed by conversation_id). A trap or restart loses running
// rounds; the requester then never hears back for those. That is the documented trade-off of this
// example; a durable version would keep each Round in the kv store under "round/<conversation_id>".
import {
  Message, Performative, JSONValue, JSONArray, dispatch, send, reply, jsonObject, jsonString,
  jsonNumber, timerSet, timerCancel, randomHex, agentName, logWarn, logInfo,
} from "../../sdk/assemblyscript/assembly";
export { caxton_abi_version, caxton_alloc, agent_init } from "../../sdk/assemblyscript/assembly";

const PROTOCOL = "fipa-contract-net";
const TIMER_ONTOLOGY = "caxton.cnet.deadline";
const DEFAULT_DEADLINE_MS = 1000;
const MAX_DEADLINE_MS = 24 * 60 * 60 * 1000;

const COLLECTING = 0;
const AWARDED = 1;

class Round {
  cid: string;
  request: Message;
  task: JSONValue;
  deadlineMs: i32;
  bidders: Array<string> = new Array<string>();
  /** Index of each bidder in `bidders`: every answer is looked up by its sender (a linear scan of string
   * compares made a 100-bidder round cost O(n²) compares). */
  index: Map<string, i32> = new Map<string, i32>();
  answered: Array<bool> = new Array<bool>();
  prices: Array<f64> = new Array<f64>();          // NaN = refused / no valid bid
  proposals: Array<Message | null> = new Array<Message | null>();
  pending: i32 = 0;
  timerId: i32 = 0;
  state: i32 = COLLECTING;
  winner: i32 = -1;

  constructor(cid: string, request: Message, task: JSONValue, deadlineMs: i32) {
    this.cid = cid;
    this.request = request;
    this.task = task;
    this.deadlineMs = deadlineMs;
  }

  indexOf(name: string): i32 {
    return this.index.has(name) ? this.index.get(name) : -1;
  }

  add(name: string): void {
    this.index.set(name, this.bidders.length);
    this.bidders.push(name);
    this.answered.push(false);
    this.prices.push(NaN);
    this.proposals.push(null);
  }
}

const rounds = new Map<string, Round>();

export function handle_message(ptr: i32, len: i32): i32 {
  return dispatch(ptr, len, onMessage);
}

function onMessage(msg: Message): i32 {
  let cid = msg.conversation_id;
  if (cid !== null && rounds.has(cid)) return onRoundMessage(rounds.get(cid), msg);
  if (msg.is(Performative.REQUEST)) return startRound(msg);
  if (!msg.is(Performative.NOT_UNDERSTOOD) && !msg.is(Performative.PROPOSE) &&
      !msg.is(Performative.REFUSE) && !msg.is(Performative.INFORM) && !msg.is(Performative.FAILURE)) {
    reply(msg, Performative.NOT_UNDERSTOOD, jsonObject().setString("error", "cn-manager understands request"));
  } else if (msg.is(Performative.PROPOSE)) {
    // A proposal for a round that is over (or unknown).
    reply(msg, Performative.REJECT_PROPOSAL, jsonObject().setString("reason", "deadline passed"));
  }
  return 0;
}

function startRound(req: Message): i32 {
  let c = req.content;
  let task = c.get("task");
  let biddersValue = c.get("bidders");
  if (task === null || biddersValue === null || !biddersValue.isArray() || biddersValue.size == 0) {
    reply(req, Performative.NOT_UNDERSTOOD, jsonObject().setString("error",
      "content must be {\"task\":any,\"bidders\":[name,...],\"deadline_ms\":n}"));
    return 0;
  }
  let deadline = DEFAULT_DEADLINE_MS;
  let d = c.get("deadline_ms");
  if (d !== null) {
    if (!d.isNumber() || !(d.asNumber() >= 0)) {
      reply(req, Performative.NOT_UNDERSTOOD, jsonObject().setString("error", "deadline_ms must be a number >= 0"));
      return 0;
    }
    deadline = <i32>Math.min(d.asNumber(), <f64>MAX_DEADLINE_MS);
  }
  let cid = "cnet-" + randomHex(8);
  let round = new Round(cid, req, task, deadline);
  let items = changetype<JSONArray>(biddersValue).items;
  for (let i = 0; i < items.length; i++) {
    let name = items[i].asString();
    if (name === null || name.length == 0) {
      reply(req, Performative.NOT_UNDERSTOOD, jsonObject().setString("error", "bidders must be agent names"));
      return 0;
    }
    if (round.indexOf(name) >= 0) continue; // duplicates are asked once
    round.add(name!);
  }
  rounds.set(cid, round);
  round.pending = round.bidders.length;
  // Every bidder gets the same content: one object, written once per cfp (writing does not change it).
  let cfpContent = jsonObject().set("task", task);
  for (let i = 0; i < round.bidders.length; i++) {
    let cfp = Message.create(Performative.CFP, round.bidders[i], cfpContent);
    cfp.conversation_id = cid;
    cfp.reply_with = cid;
    cfp.protocol = PROTOCOL;
    let rc = send(cfp);
    if (rc != 0) {
      logWarn("cn-manager: cfp to " + round.bidders[i] + " failed with " + rc.toString());
      round.answered[i] = true;
      round.pending--;
    }
  }
  logInfo("cn-manager: " + cid + " started with " + round.bidders.length.toString() + " bidders");
  if (round.pending == 0) {
    award(round);
  } else {
    round.timerId = startTimer(round);
  }
  return 0;
}

function startTimer(round: Round): i32 {
  let m = Message.create(Performative.INFORM, null, jsonObject().setString("deadline", round.cid));
  m.conversation_id = round.cid;
  m.ontology = TIMER_ONTOLOGY;
  let id = timerSet(round.deadlineMs, m);
  if (id <= 0) logWarn("cn-manager: timer_set failed with " + id.toString());
  return id;
}

function isOwnTimer(round: Round, msg: Message): bool {
  let sender = msg.sender;
  let own = agentName();
  if (sender === null || (own.length > 0 && sender != own)) return false;
  let o = msg.ontology;
  if (o === null || o != TIMER_ONTOLOGY) return false;
  let d = msg.content.getString("deadline");
  return d !== null && d == round.cid;
}

function onRoundMessage(round: Round, msg: Message): i32 {
  if (isOwnTimer(round, msg)) {
    round.timerId = 0;
    if (round.state == COLLECTING) {
      award(round);
    } else {
      let r = jsonObject().setString("error", "winner did not report a result in time");
      r.setString("winner", round.bidders[round.winner]);
      finish(round, Performative.FAILURE, r);
    }
    return 0;
  }
  let sender = msg.sender;
  let i = sender !== null ? round.indexOf(sender) : -1;
  if (i < 0) return 0; // not one of this round's bidders
  if (round.state == COLLECTING) {
    if (round.answered[i]) return 0;
    if (msg.is(Performative.PROPOSE)) {
      let p = msg.content.getNumber("price");
      if (isFinite(p)) {
        round.prices[i] = p;
        round.proposals[i] = msg;
      } else {
        logWarn("cn-manager: proposal without a numeric price from " + sender!);
      }
    } else if (!msg.is(Performative.REFUSE) && !msg.is(Performative.NOT_UNDERSTOOD)) {
      return 0; // not an answer to the cfp
    }
    round.answered[i] = true;
    round.pending--;
    if (round.pending == 0) {
      if (round.timerId > 0) timerCancel(round.timerId);
      round.timerId = 0;
      award(round);
    }
    return 0;
  }
  // AWARDED
  if (msg.is(Performative.PROPOSE)) {
    reply(msg, Performative.REJECT_PROPOSAL, jsonObject().setString("reason", "deadline passed"));
    return 0;
  }
  if (i != round.winner) return 0;
  if (msg.is(Performative.INFORM)) {
    let result = msg.content.get("result");
    let r = jsonObject();
    r.setString("winner", round.bidders[i]);
    r.setNumber("price", round.prices[i]);
    r.set("result", result !== null ? result : msg.content);
    finish(round, Performative.INFORM, r);
  } else if (msg.is(Performative.FAILURE)) {
    let r = jsonObject();
    r.setString("error", "winner failed");
    r.setString("winner", round.bidders[i]);
    r.set("reason", msg.content);
    finish(round, Performative.FAILURE, r);
  }
  return 0;
}

function award(round: Round): void {
  let best = -1;
  for (let i = 0; i < round.bidders.length; i++) {
    let p = round.prices[i];
    if (isNaN(p)) continue;
    if (best < 0 || p < round.prices[best]) best = i;
  }
  if (best < 0) {
    finish(round, Performative.FAILURE, jsonObject().setString("error", "no bids"));
    return;
  }
  round.state = AWARDED;
  round.winner = best;
  let rejected = jsonObject().setString("reason", "another proposal was accepted"); // one for all
  for (let i = 0; i < round.bidders.length; i++) {
    let p = round.proposals[i];
    if (p === null) continue;
    if (i == best) {
      let c = jsonObject().set("task", round.task).set("price", jsonNumber(round.prices[i]));
      send(p.reply(Performative.ACCEPT_PROPOSAL, c));
    } else {
      send(p.reply(Performative.REJECT_PROPOSAL, rejected));
    }
  }
  round.timerId = startTimer(round);
}

function finish(round: Round, performative: string, content: JSONValue): void {
  if (round.timerId > 0) timerCancel(round.timerId);
  round.timerId = 0;
  reply(round.request, performative, content);
  rounds.delete(round.cid);
  logInfo("cn-manager: " + round.cid + " finished: " + performative);
}
