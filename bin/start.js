// What each bin/ command runs: its CLI from dist/, which `npm run build` (or packing) makes.
// A checkout that was never built says so in one line, instead of Node's module-not-found trace.
export async function start(command, name) {
  const path = `../dist/cli/${command}.js`
  let cli
  try {
    cli = await import(path)
  } catch (error) {
    const missing = error?.code === 'ERR_MODULE_NOT_FOUND' && String(error.message).includes(`dist/cli/${command}.js`)
    if (!missing) throw error
    console.error(`${name}: this checkout is not built (dist/ is missing): run \`npm run build\` in it, then try again`)
    process.exit(2)
  }
  cli.main()
}
