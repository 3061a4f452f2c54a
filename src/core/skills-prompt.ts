import type { PinnedSkill } from '../schemas/agent.ts';

/**
 * What the agent is told of its skills: each one's name, description and folder, and how to
 * use them. The instructions themselves stay in each folder's `SKILL.md` (progressive
 * disclosure): the agent reads one when a task calls for it, with its ordinary tools.
 * Undefined when the agent has none.
 *
 * @example
 * skillsPrompt([{ skill_id: 'skill_1', version: 'skillver_1', name: 'pdf-tools', description: 'Fill in PDF forms.', path: '/mnt/skills/pdf-tools' }]);
 */
export function skillsPrompt(skills: readonly PinnedSkill[] | undefined): string | undefined {
  if (!skills?.length) return undefined;
  return [
    '# Skills',
    'You have skills: folders of instructions, scripts and resources for particular tasks. ' +
      "When a task matches a skill's description, read the SKILL.md in its folder first and follow it; run its scripts from there with bash " +
      '(treat the folders as read-only: copy a file to your working folder to change it). Read only the skills a task needs.',
    '',
    ...skills.map((skill) => `- ${skill.name} (${skill.path}/SKILL.md): ${skill.description.replace(/\s+/g, ' ')}`),
  ].join('\n');
}
