import { z } from 'zod';
import { MilestoneTitle } from '../releases/release.schemas';

export const CreateMilestoneBody = z.object({ title: MilestoneTitle }).strict();
