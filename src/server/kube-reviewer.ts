import type { Reviewer } from '../kube/reviews.js';
import type { AccessReviewer } from './auth.js';

/** The kube module's TokenReview/SubjectAccessReview client, as auth's `AccessReviewer`. */
export function accessReviewerFrom(reviewer: Reviewer): AccessReviewer {
  return {
    async reviewToken(token, audiences) {
      const review = await reviewer.reviewToken({ token, audiences });
      if (!review.authenticated || review.user === undefined) return { authenticated: false, reason: review.error };
      return { authenticated: true, user: review.user };
    },
    reviewAccess: (attributes) => reviewer.reviewAccess(attributes),
  };
}
