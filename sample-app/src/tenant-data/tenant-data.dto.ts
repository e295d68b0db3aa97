import { IsBoolean, IsOptional, IsString, Length } from 'class-validator';

export class CreateProjectDto {
  @IsString()
  @Length(1, 200)
  name!: string;
}

export class CreateTaskDto {
  @IsString()
  @Length(1, 200)
  title!: string;
}

export class UpdateTaskDto {
  @IsOptional()
  @IsString()
  @Length(1, 200)
  title?: string;

  @IsOptional()
  @IsBoolean()
  done?: boolean;
}
