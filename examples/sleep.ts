/** A handler that pretends to work: waits a millisecond per job. */
export async function handleJob(job: { id: number }): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 1))
  if (job.id < 0) throw new Error('negative ids are not valid')
}
