/**
 * CommonJS entry of the compiled Piscina workers. Piscina loads a worker file with require() first;
 * on Node 20.19+ that is require() of an ES module, which now and then aborts the whole process (a
 * failed assertion in Node's module loader). From here the ES module is loaded with import().
 */
type Worker = typeof import("./worker.js");

let loaded: Promise<Worker> | undefined;

async function run(task: Parameters<Worker["default"]>[0]): Promise<ReturnType<Worker["default"]>> {
  loaded ??= import("./worker.js");
  return (await loaded).default(task);
}

export = run;
