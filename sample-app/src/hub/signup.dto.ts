import { IsEmail, IsString, Length, Matches } from 'class-validator';

export class SignupDto {
  /** Becomes the tenant id: the header value and subdomain clients use. */
  @Matches(/^[a-z][a-z0-9-]{1,29}$/, { message: 'tenantId must be 2-30 lowercase letters, digits or dashes, starting with a letter' })
  tenantId!: string;

  @IsString()
  @Length(1, 100)
  name!: string;

  @IsEmail()
  ownerEmail!: string;
}
