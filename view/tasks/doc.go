// Package tasks holds the entries tasks are made of and the built-in views
// of them: View (the device's tasks table) and Handled (the server's
// handled_tasks table).
//
// A task is a log entry, so every state of it is a view, rebuilt from the
// log like any other. Entries are JSON objects whose "sluice" field names
// their kind (see the Kind constants): on the device, task (the user's
// action: id, queue, kind, payload), task.cancel, and the sender's
// bookkeeping task.send, task.retry, task.stuck, task.unstuck; on the
// server, for each task it applied, its result entries (what the handler
// returned; the built-in accept handler writes one task.result) followed by
// one task.answer (node, id, queue, kind, seq, outcome, reason, and results:
// how many result entries come right before it, in the same atomic
// Append). The answer and results carry the task's scope, so log sync
// brings them to every device of the user; a device's tasks view takes the
// answers whose node is its own.
//
// The sender and the server that exchange tasks are in package replicate.
package tasks
